"""The typed, validated form of the user's YAML files (pipelines and provisioned resources).

Owns: the frozen dataclasses every later layer reads. Produced only by the loaders in this
package (`orchestrator.spec.load_pipeline`, `orchestrator.spec.load_resources`), after JSON
Schema validation, so code that receives these objects may trust their shape (the one
exception, a `PipelineSpec` with `gaps`, only goes from `read_pipeline` to compile). Every
object keeps the `Mark` (file, line, col) of the YAML node it came from, so that later
phases (compile, provision) can still point users at the exact place of a problem.

Must not: do I/O, render templates, or know about Letta.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Mark:
    """Where a YAML node starts (1-based line and column)."""

    file: str
    line: int
    col: int


NO_MARK = Mark("", 0, 0)


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: Literal["string", "number", "integer", "boolean", "array", "object"] = "string"
    default: Any = None
    has_default: bool = False
    description: str = ""
    enum: tuple[Any, ...] | None = None
    secret: bool = False  # value is redacted from logs and run records
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class BlockSpec:
    """A memory block. `agent_owned`: git only seeds the value at creation; the agent's own
    edits are never overwritten by apply (see docs/provisioning.md for the rule)."""

    label: str
    value: str = ""
    description: str | None = None
    limit: int | None = None
    read_only: bool = False
    agent_owned: bool = False
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class PassageSpec:
    """An archival passage a provisioned agent is seeded with (inline `text`, or a `file`'s
    text; `source` is that file as written, "" for inline text)."""

    text: str
    tags: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class RetrySpec:
    """`max_attempts` counts the first try. Backoff doubles from `backoff` up to `max_backoff`."""

    max_attempts: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0


@dataclass(frozen=True)
class BudgetSpec:
    """What a run or a step may spend: no further unit starts once a limit is reached."""

    max_tokens: int | None = None  # prompt + completion tokens
    max_cost: float | None = None  # US dollars, from the price table (run.cost)


@dataclass(frozen=True)
class AgentSpec:
    """An agent a pipeline uses or a directory provisions.

    Inline agents (no `ref`) are created for a run and deleted afterwards unless `keep`.
    `ref` names a provisioned agent (its managed name, or a path to its Agent file); such
    agents are found on the server by managed identity and reused, memory included.
    """

    name: str
    ref: str | None = None
    description: str = ""
    model: str | None = None
    embedding: str | None = None
    system: str | None = None
    memory_blocks: tuple[BlockSpec, ...] = ()
    shared_blocks: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    # tools of McpServer resources, as (server name, tool name) (provisioned agents only)
    mcp_tools: tuple[tuple[str, str], ...] = ()
    folders: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tool_env: Mapping[str, str] = field(default_factory=dict)  # values may hold ${env:VAR}
    context_window: int | None = None
    # Provisioned agents only (the resource schema): Letta tool rules as in its API (None: not
    # declared, so not compared) and behaviour settings (None: the server's default).
    tool_rules: tuple[Mapping[str, Any], ...] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    archival: tuple[PassageSpec, ...] = ()  # seeded once each (provisioned agents only)
    keep: bool = False
    # Inline agents only: a run may create up to this many copies (same definition, shared
    # blocks attached to all), so that messages for the agent can be handled in parallel.
    replicas: int = 1
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class OutputSpec:
    format: Literal["text", "json"] = "text"
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ApprovalSpec:
    """A person's approval gate on an agent step (see docs/pipeline-language.md)."""

    before: bool = False  # ask before the unit sends anything
    after: bool = False  # ask before the unit's output is used
    prompt: str | None = None  # template shown to the approver
    timeout: float | None = None  # seconds; then `on_timeout` decides (on resume)
    on_timeout: Literal["reject", "approve"] = "reject"
    on_reject: Literal["stop", "continue"] = "stop"


@dataclass(frozen=True)
class LoopSpec:
    """Repeat the body steps (a small DAG of their own) until `until` is true, at most
    `max_iterations` times. Inside the body, `loop.index` (1-based), `loop.first` and
    `loop.previous` (the previous iteration's body steps, read like `steps`:
    `loop.previous.<body step>.output`; None on the first iteration) are defined."""

    max_iterations: int
    steps: Mapping[str, StepSpec]
    until: str | None = None
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class StepSpec:
    name: str
    agent: str | None = None  # None only for loop steps
    prompt: str | None = None
    description: str = ""
    needs: tuple[str, ...] = ()
    when: str | None = None
    output: OutputSpec = OutputSpec()
    retries: RetrySpec | None = None  # None: the pipeline default
    timeout: float | None = None  # seconds for one attempt; None: the pipeline default
    for_each: str | None = None  # template yielding a list; each item is `item_var`
    item_var: str = "item"
    uses: str | None = None  # another pipeline file, run as this step (a sub-pipeline)
    with_: Mapping[str, Any] = field(default_factory=dict)  # its inputs: templates or literals
    model: str | None = None  # per-step model override
    loop: LoopSpec | None = None
    budget: BudgetSpec | None = None  # bounds every unit of the step, repairs and retries too
    approval: ApprovalSpec | None = None  # a person's gate before and/or after each unit
    cache: bool = False  # reuse an earlier run's output for the same key (run.cache)
    mark: Mark = NO_MARK
    # Marks of individual fields ("prompt", "when", "needs[0]", ...) for precise errors.
    field_marks: Mapping[str, Mark] = field(default_factory=dict)


@dataclass(frozen=True)
class DefaultsSpec:
    model: str | None = None
    embedding: str | None = None
    retries: RetrySpec = RetrySpec()
    timeout: float | None = 600.0  # per attempt
    run_timeout: float | None = None  # whole run
    budget: BudgetSpec = BudgetSpec()  # the whole run's (the CLI's --max-* override it)


@dataclass(frozen=True)
class Gaps:
    """What a spec built from a file with errors leaves out, so that compile reports only
    problems those errors cannot explain. A spec `load_pipeline` returns has no gaps: only
    `read_pipeline` hands such a spec to compile, to report every problem in one run."""

    partial: bool = False  # YAML or schema errors left parts out: "never used" can't be told
    inputs: bool = False  # the inputs section is unreadable: any input may be declared
    agents: bool = False  # likewise for agents
    steps: frozenset[str] = frozenset()  # steps of unknown shape: their attributes unchecked
    loop_bodies: bool = False  # a loop body is unreadable: any step name may be in it
    judged: tuple[str, ...] = ()  # dotted paths of parts with shape errors (compile echoes)


NO_GAPS = Gaps()


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    file: str
    source_hash: str  # sha256 of the file's bytes
    description: str = ""
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    defaults: DefaultsSpec = DefaultsSpec()
    agents: Mapping[str, AgentSpec] = field(default_factory=dict)
    shared_blocks: Mapping[str, BlockSpec] = field(default_factory=dict)
    steps: Mapping[str, StepSpec] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # name -> template
    output_marks: Mapping[str, Mark] = field(default_factory=dict)
    gaps: Gaps = NO_GAPS


# ----- provisioned resources (a directory of `kind: Agent | Block | Tool | Folder` files) -----


@dataclass(frozen=True)
class ToolSpec:
    """A custom tool from a Python source file in the repo (one function named `name`)."""

    name: str
    source_code: str
    source_file: str
    description: str = ""
    pip_requirements: tuple[str, ...] = ()
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class FolderSpec:
    """A Letta folder; `files` are resolved to (relative path, content hash) pairs."""

    name: str
    description: str = ""
    embedding: str | None = None
    files: tuple[tuple[str, str], ...] = ()  # (path relative to the resource dir, sha256)
    root: str = ""  # directory the paths are relative to
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class McpServerSpec:
    """An MCP server Letta connects to (its tools are then Letta tools agents can attach).

    `transport`: "stdio" (Letta runs `command` with `args` and `env`) or "sse" /
    "streamable_http" (Letta connects to `url`, sending `headers`). `env` and `headers`
    values may hold `${env:VAR}`: they are secrets, resolved at plan time, never printed."""

    name: str
    transport: Literal["stdio", "sse", "streamable_http"]
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    mark: Mark = NO_MARK
    # marks of the values under env/headers ("env.KEY"), so a missing variable is located
    field_marks: Mapping[str, Mark] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceSet:
    """Everything one directory declares. Keys are managed names (unique per directory)."""

    root: str
    agents: Mapping[str, AgentSpec] = field(default_factory=dict)
    shared_blocks: Mapping[str, BlockSpec] = field(default_factory=dict)
    tools: Mapping[str, ToolSpec] = field(default_factory=dict)
    folders: Mapping[str, FolderSpec] = field(default_factory=dict)
    mcp_servers: Mapping[str, McpServerSpec] = field(default_factory=dict)
