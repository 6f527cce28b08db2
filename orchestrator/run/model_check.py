"""The models a run will ask for, checked against the handles the server offers before the
first step (a handle Letta does not know would otherwise fail mid-run, after earlier steps
spent their tokens).

Owns `models_wanted` (every model handle the run's inline agents and step overrides name, with
where each comes from) and `check_models` (all unknown handles at once, each with a "did you
mean" and the handles the server really offers).

Must not: talk to the server (the caller passes the handles), or check provisioned (`ref:`)
agents' own models: those live on the server and were checked when they were applied.
"""

from __future__ import annotations

from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.errors import RunError
from orchestrator.run.cleanup import agent_users
from orchestrator.spec.suggest import did_you_mean

SHOWN = 10  # handles listed in the error at most


def models_wanted(plan: Plan, run_model: str | None) -> dict[str, str]:
    """handle -> where it is named (the first place), for what the steps will use."""
    wanted: dict[str, str] = {}
    for name, users in agent_users(plan).items():
        spec = plan.agents[name]
        if spec.ref or not users:
            continue
        if spec.model:
            wanted.setdefault(spec.model, f"agents.{name}.model")
        elif plan.defaults.model:
            wanted.setdefault(plan.defaults.model, "defaults.model")
        elif run_model:
            wanted.setdefault(run_model, "--model")
    for step in _agent_steps(plan):
        if step.model:
            wanted.setdefault(step.model, f"steps.{step.name}.model")
    return wanted


def check_models(plan: Plan, run_model: str | None, offered: list[str], where: str) -> None:
    """Raise RunError naming every model the run needs that the server at `where` does not
    offer (nothing is checked when the server lists no chat model at all: then nothing
    could be, and the run says so when it picks its default)."""
    if not offered:
        return
    problems = []
    for handle, source in models_wanted(plan, run_model).items():
        if handle not in offered:
            hint = did_you_mean(handle, offered)
            problems.append(
                f"{source}: model '{handle}' is not offered by the server at "
                f"{where}" + (f" ({hint})" if hint else "")
            )
    if problems:
        listed = ", ".join(sorted(offered)[:SHOWN]) + (", ..." if len(offered) > SHOWN else "")
        raise RunError(
            "; ".join(problems) + f". The server offers: {listed} "
            "(choose one with --model, also on `orchestrate resume`)"
        )


def _agent_steps(plan: Plan) -> list[StepPlan]:
    steps: list[StepPlan] = []
    for step in plan.steps.values():
        steps.extend(step.loop.steps.values() if step.loop else (step,))
    return steps
