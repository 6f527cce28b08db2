"""Load a pipeline file: YAML (with marks) -> JSON Schema -> typed `PipelineSpec`.

Owns: `load_pipeline` / `load_pipeline_text`, the pipeline-level pieces (metadata, inputs,
defaults, shared blocks, outputs) and collecting *every* problem into one `SpecError`.

Must not: check references between steps, templates or cycles: that is compile's job, on a
spec this module has already proven well-formed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from orchestrator.errors import Issue, SpecError
from orchestrator.spec import schema
from orchestrator.spec.agents import agent_issues, build_agent, build_block, env_issues
from orchestrator.spec.model import DefaultsSpec, InputSpec, PipelineSpec
from orchestrator.spec.steps import build_steps, retry_spec
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at, load_documents

START_HINT = "a pipeline starts with 'apiVersion: orchestrate/v1' and 'kind: Pipeline'"


def load_pipeline(path: str | Path) -> PipelineSpec:
    """Read and validate a pipeline file; `SpecError` carries every problem found."""
    return _checked(*read_pipeline(path))


def load_pipeline_text(text: str, file: str) -> PipelineSpec:
    return _checked(*read_pipeline_text(text, file))


def read_pipeline(path: str | Path) -> tuple[PipelineSpec | None, list[Issue]]:
    """Like `load_pipeline`, but returns the problems instead of raising. The spec is None
    when the file is not even well-formed (YAML or schema errors); otherwise it is built
    even if shape rules failed, so compile can still report its own problems alongside."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return None, [Issue(file, 0, 0, "", f"cannot read file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Issue(file, 0, 0, "", f"not UTF-8 text (byte {exc.start})")]
    return read_pipeline_text(text, file)


def read_pipeline_text(text: str, file: str) -> tuple[PipelineSpec | None, list[Issue]]:
    docs, issues = load_documents(text, file)
    if issues:
        return None, issues
    if len(docs) != 1 or docs[0].data is None:
        found = "an empty file" if not docs or docs[0].data is None else f"{len(docs)} documents"
        return None, [Issue(file, 0, 0, "", f"expected one YAML document, found {found}",
                            START_HINT)]
    doc = docs[0]
    issues = schema.validate(doc, "pipeline")
    if issues:
        return None, issues
    return _build(doc, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _checked(spec: PipelineSpec | None, issues: list[Issue]) -> PipelineSpec:
    if spec is None or any(i.severity == "error" for i in issues):
        raise SpecError(issues)
    return spec


def _build(doc: MarkedDoc, source_hash: str) -> tuple[PipelineSpec, list[Issue]]:
    data: dict[str, Any] = doc.data
    issues: list[Issue] = []
    shared = {name: build_block(doc, name, block, ("shared_blocks", name))
              for name, block in data.get("shared_blocks", {}).items()}
    issues.extend(env_issues(doc, data.get("shared_blocks", {}), ("shared_blocks",)))
    agents = {}
    for name, body in data.get("agents", {}).items():
        issues.extend(agent_issues(doc, body, ("agents", name), shared))
        agents[name] = build_agent(doc, name, body, ("agents", name))
    steps = build_steps(doc, data["steps"], ("steps",), issues)
    outputs = data.get("outputs", {})
    spec = PipelineSpec(
        name=data["metadata"]["name"],
        file=doc.file,
        source_hash=source_hash,
        description=data["metadata"].get("description", ""),
        inputs=_inputs(doc, data.get("inputs", {}), issues),
        defaults=_defaults(data.get("defaults", {})),
        agents=agents,
        shared_blocks=shared,
        steps=steps,
        outputs=dict(outputs),
        output_marks={name: doc.mark(("outputs", name)) for name in outputs},
    )
    return spec, issues


def _defaults(data: dict) -> DefaultsSpec:
    base = DefaultsSpec()
    timeout, run_timeout = data.get("timeout", base.timeout), data.get("run_timeout")
    return DefaultsSpec(
        model=data.get("model"),
        embedding=data.get("embedding"),
        retries=retry_spec(data.get("retries")) or base.retries,
        timeout=float(timeout) if timeout is not None else None,
        run_timeout=float(run_timeout) if run_timeout is not None else None,
    )


def _inputs(doc: MarkedDoc, data: dict, issues: list[Issue]) -> dict[str, InputSpec]:
    inputs = {}
    for name, body in data.items():
        path = ("inputs", name)
        declared = body.get("type", "string")
        enum = tuple(body["enum"]) if "enum" in body else None
        if "default" in body:
            issues.extend(_default_issues(doc, path, declared, body["default"], enum))
        inputs[name] = InputSpec(
            name=name, type=declared, default=body.get("default"),
            has_default="default" in body, description=body.get("description", ""),
            enum=enum, secret=body.get("secret", False), mark=doc.mark(path))
    return inputs


def _default_issues(doc: MarkedDoc, path: tuple, declared: str, default: Any,
                    enum: tuple | None) -> list[Issue]:
    where = path + ("default",)
    got = schema.json_type(default)
    fits = got == declared or (declared == "number" and got == "integer")
    if default is not None and not fits:
        message = f"expected {schema.type_words(declared)}, got {schema.type_words(got)}"
        return [issue_at(doc.mark(where), where, message, "the default must match the input's type")]
    if enum is not None and default not in enum:
        return [issue_at(doc.mark(where), where, f"default {default!r} is not one of the enum values")]
    return env_issues(doc, default, where)
