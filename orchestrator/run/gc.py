"""`orchestrate runs gc`: find and delete what runs that will not finish left on a server.

Owns `collect` and its report (`Sweep`, `Leftover`). What a run creates carries its tag
(`identity.run_tag`: its inline agents, their own memory blocks, its shared blocks), so the
server says what each run left; the run records say whose it is and whether it may go:

- a run the records do not know (another machine's records, or deleted ones) is left alone;
- a run still running is left alone: its process is checked (pid) on this host; a run
  recorded by another host cannot be checked and is left alone too (run.liveness);
- a run that failed, was cancelled or was killed loses its agents, unless kept (KEEP_TAG,
  or it ran with --keep-agents): `resume` still works, with new agents;
- a run waiting for approval is left alone (its answer resumes it, maybe mid-turn);
- a run that succeeded already deleted every agent it did not keep: its agents stay;
- then the run's blocks that no agent uses any more are deleted (a block a kept agent, or
  any other agent, still uses is never deleted). A dry run reckons with the run's own
  agents only: a block some other agent also uses is listed but would stay.

Objects without a run tag (provisioned agents, hand-made ones, blocks of runs made before
blocks were tagged) are never looked at. Deleted objects are marked deleted in the records,
so a resume does not reuse them.

Must not: delete anything without a run tag, or anything of a run it cannot prove is over.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends import identity
from orchestrator.backends.base import AgentRef, BlockRef, RunBackend
from orchestrator.errors import BackendError, NotFound
from orchestrator.run import liveness
from orchestrator.run.records import Records
from orchestrator.run.status import SUCCEEDED, WAITING_APPROVAL


@dataclass(frozen=True)
class Leftover:
    run_id: str
    kind: str  # "agent" | "block"
    id: str
    name: str
    status: str  # the run's, as `runs list` shows it


@dataclass
class Sweep:
    dry_run: bool
    deleted: list[Leftover] = field(default_factory=list)  # or, with dry_run, to delete
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (run id, why)
    failed: list[tuple[Leftover, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "deleted": [vars(x) for x in self.deleted],
            "skipped": [{"run_id": r, "reason": why} for r, why in self.skipped],
            "failed": [{**vars(x), "error": err} for x, err in self.failed],
        }


def collect(
    records: Records, backend: RunBackend, *, dry_run: bool = False, only: set[str] | None = None
) -> Sweep:
    """Delete (or, with `dry_run`, list) what over runs left; `only`: these run ids."""
    agents: dict[str, list[AgentRef]] = defaultdict(list)
    for agent in backend.find_agents((identity.RUN_TAG,)):
        agents[identity.tagged_run(agent.tags) or ""].append(agent)
    blocks: dict[str, list[BlockRef]] = defaultdict(list)
    for block in backend.find_blocks((identity.RUN_TAG,)):
        blocks[identity.tagged_run(block.tags) or ""].append(block)
    sweep = Sweep(dry_run)
    for run_id in sorted((set(agents) | set(blocks)) - {""}):
        if only is None or run_id in only:
            _sweep_run(run_id, agents[run_id], blocks[run_id], records, backend, sweep)
    return sweep


def _sweep_run(
    run_id: str,
    agents: list[AgentRef],
    blocks: list[BlockRef],
    records: Records,
    backend: RunBackend,
    sweep: Sweep,
) -> None:
    run = records.run(run_id)
    why = _left_alone(run)
    if why or run is None:
        sweep.skipped.append((run_id, why or ""))
        return
    status = liveness.shown_status(run)
    kept_by_run = run["status"] == SUCCEEDED or bool(run["options"].get("keep_agents"))
    doomed = [a for a in agents if not kept_by_run and identity.KEEP_TAG not in a.tags]
    names = {r["letta_id"]: (r["kind"], r["name"]) for r in records.resources(run_id)}
    for agent in doomed:
        _delete(
            Leftover(run_id, "agent", agent.id, agent.name, status),
            backend.delete_agent,
            sweep,
            records,
            names,
        )
    if sweep.dry_run:  # unused now, or used only by agents it would delete
        idle = {b.id for b in backend.find_blocks((identity.run_tag(run_id),), unattached=True)}
        used = {i for a in agents if a not in doomed for i in backend.agent_blocks(a.id)}
        freed = {i for a in doomed for i in backend.agent_blocks(a.id)} - used
        candidates = [b for b in blocks if b.id in idle | freed]
    else:
        candidates = backend.find_blocks((identity.run_tag(run_id),), unattached=True)
    for block in candidates:
        _delete(
            Leftover(run_id, "block", block.id, block.label, status),
            backend.delete_block,
            sweep,
            records,
            names,
        )


def _left_alone(run: dict[str, Any] | None) -> str | None:
    if run is None:
        return "not in these run records (another machine's, or deleted): left alone"
    if run.get("status") == WAITING_APPROVAL:  # a person will answer, then resume
        return "waiting for approval (`orchestrate approve`): left alone"
    if liveness.alive(run):
        if liveness.on_this_host(run):
            return f"still running (pid {run['pid']})"
        return f"recorded by host {run['host']}: its process cannot be checked from here"
    return None


def _delete(
    item: Leftover, delete: Any, sweep: Sweep, records: Records, names: dict[str, tuple[str, str]]
) -> None:
    if sweep.dry_run:
        sweep.deleted.append(item)
        return
    try:
        delete(item.id)
    except NotFound:
        pass
    except BackendError as exc:
        sweep.failed.append((item, str(exc)))
        return
    sweep.deleted.append(item)
    if item.id in names:
        records.mark_deleted(item.run_id, *names[item.id])
