"""The Temporal executor end to end: a real Temporal dev server (started by the project's own
`orchestrate server start --temporal` code), real `orchestrate worker` processes, the
embedded Letta with the scripted local model.

- the example pipelines give the same step results and outputs on both executors;
- a worker killed with SIGKILL in the middle of a step: a second worker finishes the run, no
  finished step runs again, and the in-flight message reaches the agent once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("temporalio")

from orchestrator.backends.letta import LettaBackend  # noqa: E402
from orchestrator.compile import load_plan  # noqa: E402
from orchestrator.run.records import Records, UnitKey  # noqa: E402
from orchestrator.run.runner import RunOptions, start_run  # noqa: E402

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ROOT / "pipelines"
APPROVE = {"approved": True, "feedback": "good"}


class Workers:
    def __init__(self, address: str):
        self.address, self.queue = address, f"test-{uuid.uuid4().hex[:8]}"
        self.procs: list[subprocess.Popen] = []

    def start(self, env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "worker",
                "--temporal-address",
                self.address,
                "--task-queue",
                self.queue,
                "--max-concurrent-units",
                "8",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        line = proc.stderr.readline()  # "worker ready: ..." once it polls
        assert "worker ready" in line, line
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # never a full pipe
        self.procs.append(proc)
        return proc

    def options(self, **kw) -> RunOptions:
        return RunOptions(
            executor="temporal", temporal_address=self.address, task_queue=self.queue, **kw
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def workers(temporal_address):
    w = Workers(temporal_address)
    yield w
    w.stop()


def _sent(model_script, records, run_id):
    """The model requests of this run's agents only (other tests may share the endpoint)."""
    ids = {r["letta_id"] for r in records.resources(run_id) if r["kind"] == "agent"}
    return [r for r in model_script.requests() if r.get("agent_id") in ids]


def _activity_modes(workers, run_id) -> list[str]:
    """The `mode` of every step activity the run's workflow scheduled (read through the
    project's codec: the payloads are sealed)."""
    return _placement(workers, run_id)[0]


def _placement(workers, run_id) -> tuple[list[str], int]:
    """The modes of the activities any worker could take, and how many units ran as local
    activities (a `core_local_activity` marker each, on the workflow's own worker)."""
    import asyncio

    from temporalio.client import Client

    from orchestrator.run.temporal.client import TemporalTarget
    from orchestrator.run.temporal.codec import data_converter

    async def modes() -> tuple[list[str], int]:
        client = await Client.connect(
            workers.address, data_converter=data_converter(TemporalTarget().home)
        )
        history = await client.get_workflow_handle(f"orchestrate-{run_id}-0").fetch_history()
        found, local = [], 0
        for event in history.events:
            if event.HasField("activity_task_scheduled_event_attributes"):
                payloads = event.activity_task_scheduled_event_attributes.input.payloads
                args = await client.data_converter.decode(payloads)
                found.append(args[0].get("mode", "step") if isinstance(args[0], dict) else "?")
            if (
                event.HasField("marker_recorded_event_attributes")
                and event.marker_recorded_event_attributes.marker_name == "core_local_activity"
            ):
                local += 1
        return found, local

    return asyncio.run(modes())


def _run(letta_stack, records, name, inputs, options):
    return start_run(
        load_plan(PIPELINES / f"{name}.yaml"),
        inputs,
        LettaBackend(letta_stack.base_url),
        records,
        options=options,
    )


def _shape(outcome, records):
    """What must match across executors: statuses, iterations, JSON outputs' keys."""
    units = records.units(outcome.run_id)
    return (
        {n: (r.status, r.iterations) for n, r in outcome.results.items()},
        sorted((k.step, k.item, k.iteration, u["status"]) for k, u in units.items()),
        sorted(outcome.outputs),
    )


@pytest.mark.parametrize(
    "name,inputs",
    [
        ("research-report", {"topic": "owls"}),
        ("parallel-analysis", {"proposal": "Sell owl feeders"}),
    ],
)
def test_same_results_on_both_executors(letta_stack, model_script, workers, tmp_path, name, inputs):
    model_script(
        [
            {
                "prompt_contains": "Review this report",
                "json": {"approved": False, "feedback": "more owls"},
            },
            {"prompt_contains": "Review this revised report", "json": APPROVE},
        ]
    )
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        local = _run(letta_stack, records, name, inputs, RunOptions())
        local_prompts = len(_sent(model_script, records, local.run_id))
        remote = _run(letta_stack, records, name, inputs, workers.options())
        assert local.status == remote.status == "succeeded", (local.error, remote.error)
        assert _shape(local, records) == _shape(remote, records)
        assert len(_sent(model_script, records, remote.run_id)) == local_prompts  # same messages
        if name == "parallel-analysis":
            assert remote.outputs["costs"] == local.outputs["costs"]
        else:  # the loop ran one new unit per activity: rewrite, then recheck (and the end)
            assert _activity_modes(workers, remote.run_id).count("unit") == 2
            assert remote.results["revise"].iterations == local.results["revise"].iterations
        assert records.run(remote.run_id)["options"]["executor"] == "temporal"
        backend = LettaBackend(letta_stack.base_url)
        from orchestrator.backends import identity

        assert backend.find_agents((identity.run_tag(remote.run_id),)) == []  # cleaned up
    finally:
        records.close()


@pytest.mark.parametrize("spread", ["items", "all"])
def test_spread_says_which_units_any_worker_may_take(
    letta_stack, model_script, workers, tmp_path, spread
):
    # parallel-analysis: three plain steps around a for_each step of three items. By default
    # (items) the plain steps run on the workflow's worker as local activities (no round trip
    # through Temporal per step) and only the items are activities any worker may take;
    # `all` makes every step such an activity. The results are the same either way.
    model_script([])
    workers.start()
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        out = _run(
            letta_stack,
            records,
            "parallel-analysis",
            {"proposal": "Sell owl feeders"},
            workers.options(spread=spread),
        )
        assert out.status == "succeeded", out.error
        plain = [
            n
            for n, st in load_plan(PIPELINES / "parallel-analysis.yaml").steps.items()
            if st.for_each is None and st.loop is None
        ]
        modes, local = _placement(workers, out.run_id)
        assert modes.count("item") == 3
        if spread == "items":
            assert (modes.count("step"), local) == (0, len(plain))
        else:
            assert (modes.count("step"), local) == (len(plain), 0)
        assert records.run(out.run_id)["options"]["spread"] == spread  # resume keeps it
    finally:
        records.close()


def test_worker_killed_mid_step_another_finishes_with_one_message(
    letta_stack, model_script, workers, tmp_path
):
    # draft's model call takes 4 s: the worker running it is killed while Letta is in it.
    model_script(
        [
            {"prompt_contains": "Write a short report", "reply": "DRAFT", "delay": 4},
            {"prompt_contains": "Review this report", "json": APPROVE},
        ]
    )
    first = workers.start()
    records = Records(tmp_path / "runs.db")
    box: dict = {}
    runner = threading.Thread(
        target=lambda: box.update(
            out=_run(
                letta_stack,
                records,
                "research-report",
                {"topic": "owls"},
                workers.options(keep_agents=True),
            )
        )
    )
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until draft's message is at the model
            if any(
                "Write a short report" in (r.get("prompt") or "") for r in model_script.requests()
            ):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("draft never reached the model")
        workers.start()  # the second worker, then the first one dies mid-step
        os.kill(first.pid, signal.SIGKILL)
        runner.join(timeout=120)
        assert not runner.is_alive(), "the run did not finish on the second worker"
        out = box["out"]
        assert out.status == "succeeded", out.error
        prompts = Counter(r.get("prompt") for r in _sent(model_script, records, out.run_id))
        assert max(prompts.values()) == 1, prompts.most_common(2)  # nothing sent twice
        draft = records.units(out.run_id)[UnitKey("draft")]
        assert draft["output"] == "DRAFT"
        backend = LettaBackend(letta_stack.base_url)
        history = backend.delivery(draft["agent_id"], draft["otid"])
        assert history.received and history.reply.text == "DRAFT"
        for unit in records.units(out.run_id).values():
            if unit.get("agent_id"):
                backend.delete_agent(unit["agent_id"])
    finally:
        runner.join(timeout=1)
        records.close()


def test_records_on_postgres_reach_workers_without_the_password_in_temporal(
    letta_stack, model_script, workers, pg_url
):
    # The workers get the records' URL from their own environment: the workflow's input
    # names the database without its password.
    model_script([{"prompt_contains": "Review this report", "json": APPROVE}])
    workers.start(env={"ORCHESTRATE_RECORDS_URL": pg_url})
    records = Records(pg_url)
    try:
        out = _run(letta_stack, records, "research-report", {"topic": "owls"}, workers.options())
        assert out.status == "succeeded", out.error
        assert records.units(out.run_id)[UnitKey("draft")]["status"] == "succeeded"
        assert out.outputs["report"] == records.units(out.run_id)[UnitKey("draft")]["output"]
    finally:
        records.close()


def test_a_worker_on_other_records_is_a_clear_error_not_a_split_run(
    letta_stack, model_script, workers, pg_url, tmp_path
):
    model_script([])
    workers.start(env={"ORCHESTRATE_RECORDS_URL": pg_url + "_other"})
    records = Records(pg_url)
    try:
        out = _run(
            letta_stack, records, "research-report", {"topic": "owls"}, workers.options(timeout=60)
        )
        assert out.status == "failed"
        assert "ORCHESTRATE_RECORDS_URL" in (out.results["research"].error or out.error or "")
    finally:
        records.close()


def test_worker_events_reach_the_run_as_on_the_local_executor(
    letta_stack, model_script, workers, tmp_path
):
    # Invalid JSON first: the repair's retry event happens on the worker and must reach
    # the starting process's event stream (--json, progress) as it does locally.
    model_script([{"prompt_contains": "Review this report", "replies": ["not json", APPROVE]}])
    workers.start()
    records = Records(tmp_path / "runs.db")
    events: list[tuple[str, dict]] = []
    try:
        out = start_run(
            load_plan(PIPELINES / "research-report.yaml"),
            {"topic": "owls"},
            LettaBackend(letta_stack.base_url),
            records,
            options=workers.options(),
            emit=lambda k, **d: events.append((k, d)),
        )
        assert out.status == "succeeded", out.error
        kinds = [k for k, _ in events]
        retry = kinds.index("step_retry")
        assert events[retry][1]["step"] == "review"
        assert "invalid JSON reply" in events[retry][1]["error"]
        review_done = next(
            i for i, (k, d) in enumerate(events) if k == "step_finished" and d["step"] == "review"
        )
        assert retry < review_done  # in order: the retry before the step's end
        assert kinds.count("step_started") == 3 and kinds[-1] == "run_finished"
    finally:
        records.close()


def test_a_failed_run_on_temporal_resumes_on_temporal_without_resending(
    letta_stack, model_script, workers, tmp_path
):
    from orchestrator.run.runner import resume_run

    # The model fails draft every time (Letta retries it too): draft fails, review blocks.
    model_script(
        [{"prompt_contains": "Write a short report", "error": {"status": 503, "times": 1000}}]
    )
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        plan = load_plan(PIPELINES / "research-report.yaml")
        backend = LettaBackend(letta_stack.base_url)
        first = start_run(
            plan, {"topic": "owls"}, backend, records, options=workers.options(max_parallel=2)
        )
        assert first.status == "failed"
        assert first.results["draft"].status == "failed"
        assert first.results["review"].status == "blocked"
        research = len(
            [
                r
                for r in _sent(model_script, records, first.run_id)
                if (r.get("prompt") or "").startswith("Research owls")
            ]
        )
        assert research == 1
        model_script([{"prompt_contains": "Review this report", "json": APPROVE}])  # fixed
        out = resume_run(first.run_id, plan, backend, records)  # the recorded options
        assert out.status == "succeeded", out.error
        assert records.run(out.run_id)["options"]["executor"] == "temporal"
        prompts = [r.get("prompt") or "" for r in _sent(model_script, records, out.run_id)]
        assert not any(p.startswith("Research owls") for p in prompts)  # not sent again
        assert sum(p.startswith("Write a short report") for p in prompts) == 1
        assert out.results["research"].reused
    finally:
        records.close()


def test_the_run_timeout_cancels_the_workflow_and_its_step(
    letta_stack, model_script, workers, tmp_path
):
    from temporalio.client import Client, WorkflowExecutionStatus

    model_script([{"prompt_contains": "Write a short report", "reply": "late", "delay": 8}])
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        began = time.monotonic()
        out = _run(
            letta_stack, records, "research-report", {"topic": "owls"}, workers.options(timeout=4)
        )
        assert time.monotonic() - began < 8
        assert out.status == "failed" and "timed out" in out.error
        assert out.results["research"].status == "succeeded"
        assert out.results["draft"].status == "cancelled"
        assert out.results["review"].status == "not_started"

        async def status() -> WorkflowExecutionStatus | None:
            client = await Client.connect(workers.address)
            return (
                await client.get_workflow_handle(f"orchestrate-{out.run_id}-0").describe()
            ).status

        import asyncio

        deadline = time.monotonic() + 20
        while asyncio.run(status()) == WorkflowExecutionStatus.RUNNING:
            assert time.monotonic() < deadline, "the workflow was not cancelled"
            time.sleep(0.5)
        assert asyncio.run(status()) == WorkflowExecutionStatus.CANCELED
    finally:
        records.close()


SECRET_PIPELINE = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: secret-temporal}
inputs:
  token: {type: string, secret: true}
agents:
  a: {memory_blocks: [{label: persona, value: "I repeat what I am told."}]}
steps:
  echo: {agent: a, prompt: "Remember this token: {{ inputs.token }}"}
outputs:
  said: "{{ steps.echo.output }}"
"""


def test_a_secret_input_is_sealed_in_temporal_and_masked_in_the_records(
    letta_stack, model_script, workers, tmp_path
):
    from temporalio.client import Client

    secret = "tok-" + uuid.uuid4().hex
    model_script([])  # the local model echoes the prompt: the secret is in the reply too
    workers.start()
    pipeline = tmp_path / "secret.yaml"
    pipeline.write_text(SECRET_PIPELINE)
    records = Records(tmp_path / "runs.db")
    try:
        out = start_run(
            load_plan(pipeline),
            {"token": secret},
            LettaBackend(letta_stack.base_url),
            records,
            options=workers.options(),
        )
        assert out.status == "succeeded", out.error
        assert any(secret in (r.get("prompt") or "") for r in model_script.requests())
        raw = (tmp_path / "runs.db").read_bytes()
        wal = tmp_path / "runs.db-wal"
        raw += wal.read_bytes() if wal.exists() else b""
        assert secret.encode() not in raw  # masked in the records, as on the local executor

        async def history() -> bytes:  # read with no codec: what Temporal itself stores
            client = await Client.connect(workers.address)
            handle = client.get_workflow_handle(f"orchestrate-{out.run_id}-0")
            events = (await handle.fetch_history()).events
            return b"".join(e.SerializeToString() for e in events)  # payload bytes verbatim

        import asyncio

        stored = asyncio.run(history())
        assert b"binary/orchestrate-aes256gcm" in stored  # sealed payloads
        assert secret.encode() not in stored
        assert b"Remember this token" not in stored  # nothing else in clear either
    finally:
        records.close()


def test_for_each_items_are_activities_a_killed_worker_loses_none(
    letta_stack, model_script, workers, tmp_path
):
    # Each summary takes 3 s at the model; the worker running them dies while they are in
    # flight. The second worker takes the items over: every item's prompt reaches the
    # model once, the output keeps item order, and items ran on different agent copies.
    model_script([{"prompt_contains": "Summarise what the", "delay": 3}])
    first = workers.start()
    records = Records(tmp_path / "runs.db")
    box: dict = {}
    runner = threading.Thread(
        target=lambda: box.update(
            out=_run(
                letta_stack,
                records,
                "parallel-analysis",
                {"proposal": "Sell owl feeders"},
                workers.options(max_parallel=6, keep_agents=True),
            )
        )
    )
    runner.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if (
                sum(
                    "Summarise what the" in (r.get("prompt") or "") for r in model_script.requests()
                )
                >= 2
            ):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the summaries never reached the model")
        workers.start()
        os.kill(first.pid, signal.SIGKILL)
        runner.join(timeout=150)
        assert not runner.is_alive(), "the run did not finish on the second worker"
        out = box["out"]
        assert out.status == "succeeded", out.error
        units = records.units(out.run_id)
        items = [units[UnitKey("summaries", i)] for i in range(3)]
        assert [u["status"] for u in items] == ["succeeded"] * 3
        assert len({u["replica"] for u in items}) == 3  # one copy each, leased globally
        assert out.results["summaries"].output == [u["output"] for u in items]
        # The agents' own histories (the ground truth): each item's prompt is there once.
        from letta_client import Letta

        client = Letta(base_url=letta_stack.base_url)
        for unit in items:
            texts = [
                m.content
                for m in client.agents.messages.list(unit["agent_id"], limit=100).items
                if getattr(m, "message_type", "") == "user_message"
            ]
            mine = [t for t in texts if "Summarise what the" in str(t)]
            assert len(mine) == 1, mine
        assert _activity_modes(workers, out.run_id).count("item") >= 3  # items: activities
        backend = LettaBackend(letta_stack.base_url)
        for agent_id in {u["agent_id"] for u in units.values() if u.get("agent_id")}:
            backend.delete_agent(agent_id)
    finally:
        runner.join(timeout=1)
        records.close()


def test_the_run_budget_holds_across_workers_and_resume_carries_on(
    letta_stack, model_script, workers, tmp_path
):
    import dataclasses

    from orchestrator.run.runner import recorded_options, resume_run

    model_script([{"prompt_contains": "Review this report", "json": APPROVE}])
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        plan = load_plan(PIPELINES / "research-report.yaml")
        backend = LettaBackend(letta_stack.base_url)
        out = start_run(
            plan, {"topic": "owls"}, backend, records, options=workers.options(max_tokens=1)
        )
        assert out.status == "failed" and "--max-tokens" in out.error
        assert out.results["research"].status == "succeeded"  # it started below the limit
        assert out.results["draft"].status == "not_started"
        assert "max_tokens" in (out.results["draft"].error or "")
        options = dataclasses.replace(recorded_options(records.run(out.run_id)), max_tokens=10**7)
        assert options.executor == "temporal"
        model_script([{"prompt_contains": "Review this report", "json": APPROVE}])
        done = resume_run(out.run_id, plan, backend, records, options=options)
        assert done.status == "succeeded", done.error
        prompts = [r.get("prompt") or "" for r in _sent(model_script, records, out.run_id)]
        assert not any(p.startswith("Research owls") for p in prompts)  # not sent again
    finally:
        records.close()
