"""Step output caching across runs (`cache: true`): the key, and taking a hit.

Owns `cache_key(svc, step, key, prompt)`: a sha256 over what decides a unit's answer: the
pipeline's name, the unit's step path, the step's fingerprint (its templates, output format
and schema, its agent's definition digest and shared blocks, its model as written), the
model the run actually uses for it (`--model` may change it), and the rendered prompt
(upstream outputs and inputs included). A unit whose rendered prompt holds a secret value is
not cached (None): its key would be a digest of the secret, and a short secret can be
guessed from one. `${env:VAR}` in agent fields enters the key by name, never by value.

`take(svc, step, key, ...)`: the newest succeeded unit of any earlier run with that key,
recorded as this run's unit with `cached = 1` and nothing sent to Letta. Not in the key: the
agent's memory (what earlier steps of the run told a stateful Letta agent shows in their
prompts, which are keyed, only as far as they are upstream), and the run itself: the
iterations of one run's loop never answer each other from the cache.

Must not: send messages, or see a secret it could write down.
"""

from __future__ import annotations

import hashlib
import json
import time

from orchestrator.compile.plan import StepPlan
from orchestrator.run.context import StepResult
from orchestrator.run.records import UnitKey
from orchestrator.run.services import Services
from orchestrator.run.status import SUCCEEDED

KEY_VERSION = 1


def cache_key(svc: Services, step: StepPlan, key: UnitKey, prompt: str) -> str | None:
    if svc.redactor.text(prompt) != prompt:
        svc.emit(
            "warning", message=f"step '{key.label()}': not cached, its prompt holds a secret value"
        )
        return None
    pool = svc.agents
    spec = pool.plan.agents.get(step.agent or "")
    model = step.model or (pool.agent_model(spec) if spec is not None else None)
    payload = {
        "v": KEY_VERSION,
        "pipeline": pool.plan.name,
        "step": key.step,
        "fingerprint": step.fingerprint,
        "model": model,
        "prompt": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def take(
    svc: Services, step: StepPlan, key: UnitKey, ckey: str, recorded: str
) -> StepResult | None:
    """The cached result for `ckey`, recorded as this unit's (None: nothing cached)."""
    hit = svc.records.cached_output(ckey, svc.run_id)
    if hit is None:
        return None
    now = time.time()
    svc.records.write_unit(
        svc.run_id,
        key,
        status=SUCCEEDED,
        output=hit["output"],
        agent=step.agent,
        prompt=recorded,
        fingerprint=step.fingerprint,
        cache_key=ckey,
        cached=1,
        attempts=0,
        started=now,
        ended=now,
        duration=0.0,
        error=None,
    )
    svc.emit("step_cached", step=key.label(), from_run=hit["run_id"])
    return StepResult(SUCCEEDED, hit["output"], cached=True)
