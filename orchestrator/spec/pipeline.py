"""Load a pipeline file: YAML (with marks) -> JSON Schema -> typed `PipelineSpec`.

Owns: `load_pipeline` / `load_pipeline_text`, the pipeline-level pieces (metadata, inputs,
defaults, shared blocks, outputs) and collecting *every* problem into one `SpecError`. A file
with YAML or schema errors is still built from its readable parts (`read_pipeline`; see
damage.py and `model.Gaps`) so that compile can report the problems of the rest in the
same run: one typo must not hide an unknown agent three steps further down.

Must not: check references between steps, templates or cycles: that is compile's job.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from orchestrator.errors import Issue, SpecError
from orchestrator.spec import schema
from orchestrator.spec.agents import agent_issues, build_agent, build_block, env_issues
from orchestrator.spec.damage import Damage
from orchestrator.spec.files import FileProblem, read_text
from orchestrator.spec.limits import MAX_YAML_BYTES
from orchestrator.spec.model import NO_GAPS, AgentSpec, DefaultsSpec, Gaps, InputSpec, PipelineSpec
from orchestrator.spec.steps import budget_spec, build_steps, retry_spec
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at, load_documents

START_HINT = "a pipeline starts with 'apiVersion: orchestrate/v1' and 'kind: Pipeline'"


def load_pipeline(path: str | Path) -> PipelineSpec:
    """Read and validate a pipeline file; `SpecError` carries every problem found."""
    return _checked(*read_pipeline(path))


def load_pipeline_text(text: str, file: str) -> PipelineSpec:
    return _checked(*read_pipeline_text(text, file))


def read_pipeline(path: str | Path) -> tuple[PipelineSpec | None, list[Issue]]:
    """Like `load_pipeline`, but returns the problems instead of raising. The spec is None
    when nothing more can be said (unparsable YAML, not one document, no readable `steps`);
    otherwise it is built from the readable parts even if the schema or shape rules failed
    (`spec.gaps` says what was left out), so compile can report its problems alongside."""
    file = str(path)
    try:  # a regular file, at most MAX_YAML_BYTES: `validate /dev/zero` must not fill memory
        text = read_text(Path(path), MAX_YAML_BYTES)
    except FileProblem as problem:
        return None, [Issue(file, 0, 0, "", problem.message, problem.hint)]
    return read_pipeline_text(text, file)


def read_pipeline_text(text: str, file: str) -> tuple[PipelineSpec | None, list[Issue]]:
    docs, issues = load_documents(text, file)
    if not docs and issues:  # a syntax error: nothing after it can be trusted
        return None, issues
    if len(docs) != 1 or docs[0].data is None:
        found = "an empty file" if not docs or docs[0].data is None else f"{len(docs)} documents"
        return None, issues + [
            Issue(file, 0, 0, "", f"expected one YAML document, found {found}", START_HINT)
        ]
    doc = docs[0]
    problems, damage = schema.check(doc, "pipeline")
    issues.extend(problems)
    if not isinstance(doc.data, dict) or damage.within_broken(("steps",)):
        return None, issues  # without its steps, nothing more about a pipeline can be said
    spec, more = _build(doc, hashlib.sha256(text.encode("utf-8")).hexdigest(), damage)
    return spec, issues + more


def _checked(spec: PipelineSpec | None, issues: list[Issue]) -> PipelineSpec:
    if spec is None or any(i.severity == "error" for i in issues):
        raise SpecError(issues)
    return spec


def _build(doc: MarkedDoc, source_hash: str, damage: Damage) -> tuple[PipelineSpec, list[Issue]]:
    """The spec of the document's readable parts; with `damage`, broken parts are left out
    (see damage.py) and `PipelineSpec.gaps` says what compile must therefore not judge."""
    data: dict[str, Any] = doc.data
    issues: list[Issue] = []
    shared_data = _section(data, "shared_blocks", damage)
    shared = {}
    for name, block in (shared_data or {}).items():
        block = damage.readable(block, ("shared_blocks", name)) or {}
        shared[name] = build_block(doc, name, block, ("shared_blocks", name))
        issues.extend(env_issues(doc, block, ("shared_blocks", name)))
    agents_data = _section(data, "agents", damage)
    agents = {}
    for name, body in (agents_data or {}).items():
        path = ("agents", name)
        readable = damage.readable(body, path)
        if readable is None:
            agents[name] = AgentSpec(name=name, mark=doc.mark(path))
            continue
        present = damage.present(body, path) if readable is not body else None
        issues.extend(
            agent_issues(doc, readable, path, shared if shared_data is not None else None, present)
        )
        agents[name] = build_agent(doc, name, readable, path)
    steps = build_steps(doc, data["steps"], ("steps",), issues, damage=damage)
    metadata = damage.readable(data.get("metadata"), ("metadata",)) or {}
    outputs = {
        name: text
        for name, text in (_section(data, "outputs", damage) or {}).items()
        if ("outputs", name) not in damage.tainted
    }
    inputs_data = _section(data, "inputs", damage)
    spec = PipelineSpec(
        name=metadata.get("name", ""),
        file=doc.file,
        source_hash=source_hash,
        description=metadata.get("description", ""),
        inputs=_inputs(doc, inputs_data or {}, issues, damage),
        defaults=_defaults(damage.readable(data.get("defaults"), ("defaults",)) or {}),
        agents=agents,
        shared_blocks=shared,
        steps=steps,
        outputs=outputs,
        output_marks={name: doc.mark(("outputs", name)) for name in outputs},
        gaps=_gaps(damage, inputs_data is None, agents_data is None, issues),
    )
    return spec, issues


def _section(data: dict, key: str, damage: Damage) -> dict | None:
    """The mapping under a top-level `key` ({} when absent); None when it is unreadable (or
    misspelt). Its entries may still be damaged: each is read with `damage.readable`."""
    if (key,) in damage.broken or (key not in data and key in damage.meant_at(())):
        return None
    section = data.get(key, {})
    return section if isinstance(section, dict) else None


def _gaps(damage: Damage, no_inputs: bool, no_agents: bool, issues: list[Issue]) -> Gaps:
    judged = tuple(i.path for i in issues if i.severity == "error")
    if not damage:
        return Gaps(judged=judged) if judged else NO_GAPS
    return Gaps(
        partial=True,
        inputs=no_inputs,
        agents=no_agents,
        steps=frozenset(damage.opaque_steps),
        loop_bodies=damage.unknown_bodies,
        judged=judged,
    )


def _defaults(data: dict) -> DefaultsSpec:
    base = DefaultsSpec()
    timeout, run_timeout = data.get("timeout", base.timeout), data.get("run_timeout")
    return DefaultsSpec(
        model=data.get("model"),
        embedding=data.get("embedding"),
        retries=retry_spec(data.get("retries")) or base.retries,
        timeout=float(timeout) if timeout is not None else None,
        run_timeout=float(run_timeout) if run_timeout is not None else None,
        budget=budget_spec(data.get("budget")) or base.budget,
    )


def _inputs(
    doc: MarkedDoc, data: dict, issues: list[Issue], damage: Damage
) -> dict[str, InputSpec]:
    inputs = {}
    for name, raw in data.items():
        path = ("inputs", name)
        body = damage.readable(raw, path)
        if body is None:
            inputs[name] = InputSpec(name=name, mark=doc.mark(path))
            continue
        declared = body.get("type", "string")
        enum = tuple(body["enum"]) if "enum" in body else None
        # A default is judged against the type and enum: only when both could be read.
        judgeable = body is raw or not {"type", "enum"} & (
            set(damage.present(raw, path)) - body.keys()
        )
        if "default" in body and judgeable:
            issues.extend(_default_issues(doc, path, declared, body["default"], enum))
        inputs[name] = InputSpec(
            name=name,
            type=declared,
            default=body.get("default"),
            has_default="default" in body,
            description=body.get("description", ""),
            enum=enum,
            secret=body.get("secret", False),
            mark=doc.mark(path),
        )
    return inputs


def _default_issues(
    doc: MarkedDoc, path: tuple, declared: str, default: Any, enum: tuple | None
) -> list[Issue]:
    where = path + ("default",)
    got = schema.json_type(default)
    fits = got == declared or (declared == "number" and got == "integer")
    if default is not None and not fits:
        message = f"expected {schema.type_words(declared)}, got {schema.type_words(got)}"
        return [
            issue_at(doc.mark(where), where, message, "the default must match the input's type")
        ]
    if enum is not None and default not in enum:
        return [
            issue_at(doc.mark(where), where, f"default {default!r} is not one of the enum values")
        ]
    return env_issues(doc, default, where)
