"""The project's local, deterministic, OpenAI-compatible model endpoint.

Letta's agent loop talks to it as an OpenAI-compatible provider (handle
`openai-proxy/orchestrate-local`, embeddings `openai/text-embedding-3-small`), so pipelines
run end to end with no account and no internet. Unscripted, it echoes the prompt
(`[local-model] <agent id>: reply to: <prompt>`) or, when the prompt carries
`JSON_SCHEMA_MARKER` and a fenced schema, answers with a minimal valid instance of it.
Scripts (see `script`) make it answer per agent/prompt, fail, wait or call tools.

Run it with the orchestrate package's Python (it needs only the standard library and, for
YAML scripts, pyyaml):  python -m orchestrator.server.model_endpoint --port 8284 [--script F]
Documented for users in docs/model-endpoint.md. Must not import anything outside this package.
"""

from .admin import ModelAdmin
from .conversation import JSON_SCHEMA_MARKER, Conversation, default_reply
from .http_server import DEFAULT_MODEL_ID, ModelEndpoint, make_server
from .schema_instance import minimal_instance
from .script import Script, ScriptError

__all__ = [
    "DEFAULT_MODEL_ID",
    "JSON_SCHEMA_MARKER",
    "Conversation",
    "ModelAdmin",
    "ModelEndpoint",
    "Script",
    "ScriptError",
    "default_reply",
    "make_server",
    "minimal_instance",
]
