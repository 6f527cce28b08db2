"""OpenTelemetry traces of real runs on the embedded Letta, exported over OTLP/HTTP to a real
receiver (Phoenix, `orchestrate server start --traces`) and read back from its REST API:
span names, parent/child structure, GenAI attributes, retries and repairs as events, errors
as status, and no secret anywhere, even with content opt-in.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from letta_fault_proxy import MESSAGE_POST, FaultProxy
from otel_receiver import by_name, children, receiver

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "qz-input-7731-secret"  # a `secret: true` input
ENV_SECRET = "qz-env-5519-token"  # a ${env:...} value in the agent's system prompt

PIPELINE = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: traced}
inputs:
  code: {type: string, secret: true}
agents:
  a:
    system: "You help. Token: ${env:OTEL_TEST_TOKEN}"
steps:
  greet: {agent: a, prompt: "greet {{ inputs.code }}"}
  flaky: {agent: a, prompt: "flaky {{ steps.greet.output }}", retries: {max_attempts: 3, backoff: 0.1}}
  items: {agent: a, for_each: "{{ ['x', 'y'] }}", prompt: "item {{ item }} {{ steps.greet.output }}"}
  check:
    agent: a
    prompt: "check {{ steps.flaky.output }}"
    output:
      format: json
      schema: {type: object, required: [ok], properties: {ok: {type: boolean}}}
  again:
    loop:
      max_iterations: 2
      steps:
        redo: {agent: a, prompt: "redo {{ loop.index }} {{ steps.check.output.ok }}"}
"""

SCRIPT = [
    {"prompt_contains": "greet", "reply": f"hello {SECRET} and {ENV_SECRET}"},
    {"prompt_contains": "flaky", "reply": "steady"},
    {"prompt_contains": "Your previous answer was not valid", "json": {"ok": True}},
    {"prompt_contains": "check", "reply": "not json at all"},
]


@pytest.fixture
def phoenix_receiver(letta_stack):
    return receiver(letta_stack.home)


class RefusingProxy(FaultProxy):
    """Letta behind a proxy that answers 503 to the first message whose body contains
    `word` *before* Letta sees it: the message never arrived, so the runner retries it."""

    def __init__(self, upstream: str, word: str):
        super().__init__(upstream)
        self.word, self.refused = word.encode(), 0

    def _handle(self, request) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if (
            not self.refused
            and request.command == "POST"
            and MESSAGE_POST.match(request.path)
            and self.word in body
        ):
            self.refused += 1
            data = b'{"detail": "refused by the test proxy"}'
            request.send_response(503)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
            return
        request.rfile = io.BytesIO(body)
        super()._handle(request)


def _run_cli(
    tmp_path: Path, receiver_endpoint: str, *args: str, body: str = PIPELINE, **extra_env: str
) -> dict:
    file = tmp_path / "traced.yaml"
    file.write_text(body)
    env = {
        **os.environ,
        "OTEL_TEST_TOKEN": ENV_SECRET,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver_endpoint,
        **extra_env,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "run",
            str(file),
            "--json",
            "-i",
            f"code={SECRET}",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"_stderr": done.stderr}


def test_a_run_is_one_trace_of_run_unit_and_letta_call_spans(
    letta_stack, model_script, phoenix_receiver, tmp_path
):
    model_script(SCRIPT)
    with RefusingProxy(letta_stack.base_url, "flaky") as proxy:
        outcome = _run_cli(
            tmp_path, phoenix_receiver.traces_endpoint, "--otel-content", "--base-url", proxy.url
        )
    assert outcome["status"] == "succeeded", outcome
    assert proxy.refused == 1
    spans = phoenix_receiver.spans(outcome["run_id"], want=12)
    assert len({s["context"]["trace_id"] for s in spans}) == 1  # one trace per run

    (run,) = by_name(spans, "invoke_workflow traced")
    assert run["parent_id"] is None
    attrs = flat(run["attributes"])
    assert attrs["gen_ai.operation.name"] == "invoke_workflow"
    assert attrs["orchestrate.run.id"] == outcome["run_id"]
    assert attrs["orchestrate.status"] == "succeeded"
    assert attrs["gen_ai.usage.input_tokens"] == outcome["usage"]["prompt_tokens"] > 0

    units = by_name(spans, "invoke_agent a")
    assert sorted(flat(u["attributes"])["orchestrate.unit"] for u in units) == [
        "again.redo#1",
        "again.redo#2",
        "check",
        "flaky",
        "greet",
        "items[0]",
        "items[1]",
    ]
    for unit in units:
        a = flat(unit["attributes"])
        assert unit["parent_id"] == run["context"]["span_id"]
        assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.agent.name"] == "a"
        assert a["gen_ai.agent.id"].startswith("agent-")
        assert a["gen_ai.conversation.id"] == a["gen_ai.agent.id"]
        assert a["gen_ai.request.model"] == letta_stack.model_handle
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
        sends = [c for c in children(spans, unit) if c["name"] == "letta.send"]
        assert sends, unit["name"]
        assert all(flat(c["attributes"])["gen_ai.agent.id"] == a["gen_ai.agent.id"] for c in sends)
    unit = {flat(u["attributes"])["orchestrate.unit"]: u for u in units}
    assert flat(unit["items[1]"]["attributes"])["orchestrate.item"] == 1
    assert flat(unit["again.redo#2"]["attributes"])["orchestrate.iteration"] == 2
    # the 503: an ambiguous failure asked of the agent's history, a retry event, 2 attempts
    flaky = unit["flaky"]
    assert [e["name"] for e in flaky["events"]] == ["orchestrate.retry"]
    assert flat(flaky["attributes"])["orchestrate.attempt"] == 2
    flaky_calls = sorted(c["name"] for c in children(spans, flaky))
    assert flaky_calls.count("letta.send") == 2 and "letta.delivery" in flaky_calls
    failed_send = [
        c
        for c in children(spans, flaky)
        if c["name"] == "letta.send" and c["status_code"] == "ERROR"
    ]
    assert len(failed_send) == 1
    # the JSON repair: an event, and the repaired output as content
    check = unit["check"]
    assert [e["name"] for e in check["events"]] == ["orchestrate.repair"]
    assert flat(check["attributes"])["orchestrate.repairs"] == 1
    assert json.loads(flat(check["attributes"])["output.value"]) == {"ok": True}
    # content opt-in: prompts and outputs are there, masked
    greet = flat(unit["greet"]["attributes"])
    assert greet["input.value"] == "greet ***"
    assert greet["output.value"] == "hello *** and ***"
    assert "greet ***" in greet["gen_ai.input.messages"]
    # creating the agent is a client span too; the system prompt is not on it
    (create,) = by_name(spans, "create_agent")
    assert flat(create["attributes"])["gen_ai.operation.name"] == "create_agent"
    assert_no_secret(spans)


def test_without_content_opt_in_no_prompt_or_output_is_exported(
    letta_stack, model_script, phoenix_receiver, tmp_path
):
    model_script(SCRIPT)
    outcome = _run_cli(tmp_path, phoenix_receiver.traces_endpoint)
    assert outcome["status"] == "succeeded", outcome
    spans = phoenix_receiver.spans(outcome["run_id"], want=12)
    text = json.dumps(spans)
    for word in ("hello", "steady", "not json at all", "item x"):
        assert word not in text, word
    assert not any(
        k.endswith(("input.value", "output.value", "messages"))
        for s in spans
        for k in flat(s["attributes"])
    )
    assert_no_secret(spans)


def test_a_failed_unit_and_run_are_errors(letta_stack, model_script, phoenix_receiver, tmp_path):
    model_script(
        [
            {"prompt_contains": "check", "reply": "never json"},
            {
                "prompt_contains": "Your previous answer was not valid",
                "reply": f"still not json {SECRET}",
            },
        ]
    )
    body = textwrap.dedent("""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {name: traced}
        inputs: {code: {type: string, secret: true}}
        agents: {a: {}}
        steps:
          check:
            agent: a
            prompt: "check {{ inputs.code }}"
            retries: 2
            output: {format: json, schema: {type: object}}
        """)
    outcome = _run_cli(tmp_path, phoenix_receiver.traces_endpoint, "--otel-content", body=body)
    assert outcome["status"] == "failed", outcome
    spans = phoenix_receiver.spans(outcome["run_id"], want=3)
    (run,) = by_name(spans, "invoke_workflow")
    (unit,) = by_name(spans, "invoke_agent")
    assert run["status_code"] == unit["status_code"] == "ERROR"
    assert "gave up after 2 attempts" in unit["status_message"]
    assert "step 'check' failed" in run["status_message"]
    assert_no_secret(spans)


def test_temporal_workers_put_their_units_under_the_run_span(
    letta_stack, model_script, phoenix_receiver, temporal_address, tmp_path
):
    model_script(SCRIPT)
    queue = f"otel-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "OTEL_TEST_TOKEN": ENV_SECRET}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # the worker takes the run's endpoint
    env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "worker",
            "--temporal-address",
            temporal_address,
            "--task-queue",
            queue,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        line = worker.stderr.readline()
        assert "worker ready" in line, line
        threading.Thread(target=worker.stderr.read, daemon=True).start()
        outcome = _run_cli(
            tmp_path,
            phoenix_receiver.traces_endpoint,
            "--executor",
            "temporal",
            "--temporal-address",
            temporal_address,
            "--task-queue",
            queue,
            "--otel-content",
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert outcome["status"] == "succeeded", outcome
    spans = phoenix_receiver.spans(outcome["run_id"], want=10)
    assert len({s["context"]["trace_id"] for s in spans}) == 1
    (run,) = by_name(spans, "invoke_workflow traced")
    assert flat(run["attributes"])["orchestrate.executor"] == "temporal"
    units = by_name(spans, "invoke_agent a")
    assert sorted(flat(u["attributes"])["orchestrate.unit"] for u in units) == [
        "again.redo#1",
        "again.redo#2",
        "check",
        "flaky",
        "greet",
        "items[0]",
        "items[1]",
    ]
    assert all(u["parent_id"] == run["context"]["span_id"] for u in units)
    assert all(any(c["name"] == "letta.send" for c in children(spans, u)) for u in units)
    # the worker created the agent copy: a client span of the worker, under the run span
    (create,) = by_name(spans, "create_agent")
    assert create["parent_id"] == run["context"]["span_id"]
    assert_no_secret(spans)


def flat(attrs: dict, prefix: str = "") -> dict:
    """Phoenix returns attributes nested by their dots: flatten them back."""
    out: dict = {}
    for key, value in attrs.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, name + "."))
        else:
            out[name] = value
    return out


def assert_no_secret(spans: list[dict]) -> None:
    text = json.dumps(spans)
    for secret in (SECRET, ENV_SECRET, "7731", "5519"):  # whole, or any part of one
        assert secret not in text, secret


def test_a_resume_is_a_new_trace_with_only_what_ran_again(harness, compile_text, tmp_path):
    # no Letta needed: the in-memory backend, the real receiver (the stack's Phoenix)
    from orchestrator.errors import BackendError
    from orchestrator.run.runner import RunOptions, resume_run
    from orchestrator.run.tracing import TraceSettings

    found = receiver_at_default_home()
    pipe = """
agents: {a: {}}
defaults: {retries: {max_attempts: 1}}
steps:
  one: {agent: a, prompt: "one"}
  two: {agent: a, prompt: "two {{ steps.one.output }}"}
"""
    harness.backend.script(
        prompt_contains="two", times=1, fail=BackendError("HTTP 400: refused", status=400)
    )
    traced = TraceSettings(True, False, found.traces_endpoint)
    first = harness.run(pipe, trace=traced)
    assert first.status == "failed"
    out = resume_run(
        first.run_id,
        compile_text(pipe),
        harness.backend,
        harness.records,
        options=RunOptions(trace=traced),
    )
    assert out.status == "succeeded", out.error
    spans = found.spans(first.run_id, want=2 + 2 + 3)
    runs = by_name(spans, "invoke_workflow")
    assert sorted(flat(r["attributes"])["orchestrate.resumed"] for r in runs) == [False, True]
    assert len({s["context"]["trace_id"] for s in spans}) == 2  # one trace per attempt
    resumed = next(r for r in runs if flat(r["attributes"])["orchestrate.resumed"])
    again = [
        u
        for u in by_name(spans, "invoke_agent")
        if u["context"]["trace_id"] == resumed["context"]["trace_id"]
    ]
    assert [flat(u["attributes"])["orchestrate.unit"] for u in again] == ["two"]  # one reused
    failed = [u for u in by_name(spans, "invoke_agent") if u["status_code"] == "ERROR"]
    assert [flat(u["attributes"])["orchestrate.unit"] for u in failed] == ["two"]
    assert "HTTP 400: refused" in failed[0]["status_message"]


def receiver_at_default_home():
    from orchestrator.server.paths import StackPaths

    return receiver(StackPaths.resolve(None).home)


CLI_PROBE = """
import sys
from orchestrator.cli import main
try:
    main({args!r}, prog_name="orchestrate")
except SystemExit as exc:
    print("EXIT", exc.code, file=sys.stderr)
print("LOADED", sorted(m for m in sys.modules if m.startswith("opentelemetry")), file=sys.stderr)
"""


def test_orchestrate_run_without_the_variable_loads_no_opentelemetry(letta_stack, tmp_path):
    # the whole command on the real server (test_otel_switch.py shows the same probe sees the
    # SDK when a run is traced)
    file = tmp_path / "plain.yaml"
    file.write_text(
        "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: plain}\n"
        "agents: {a: {}}\nsteps:\n  one: {agent: a, prompt: hello}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", CLI_PROBE.format(args=["run", str(file), "--json"])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert "EXIT 0" in done.stderr, done.stderr[-2000:]
    assert done.stderr.rsplit("LOADED", 1)[1].strip() == "[]"
