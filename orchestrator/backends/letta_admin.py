"""`AdminBackend` on letta-client 1.12.1: the provisioning half of all Letta access.

Owns `LettaAdmin`: reading agents with their blocks, tools, folders, tags and metadata into
the plain types of `backends.admin`, and every provisioning write (agents, blocks, tools
from source, folders, file uploads, attach/detach; MCP servers and agent files in
letta_admin_extra.py). letta-client failures become
`orchestrator.errors` (connection refused -> ServerUnavailable, 404 -> NotFound, other HTTP
errors -> BackendError with the status and the server's short reason; never request bodies,
which may hold secrets). Before its first call it checks that the server is a Letta server
(letta_health.py: a short timeout, and "this is not a Letta server (it answered ...)" for
anything else); every call has a timeout (letta_limits.CALL_TIMEOUT).

Must not: decide what to change (provision/diff_engine.py) or log anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal

from letta_client import Letta

from orchestrator.backends.admin import (
    AGENT_SETTINGS,
    AGENT_UPDATE_FIELDS,
    AgentState,
    Block,
    Folder,
    FolderFile,
    NewAgent,
    NewBlock,
    NewTool,
    Passage,
    Tool,
)
from orchestrator.backends.letta_admin_extra import LettaExtras
from orchestrator.backends.letta_args import agent_args, agent_update_args, block_args
from orchestrator.backends.letta_errors import listed, translated
from orchestrator.backends.letta_health import check_health
from orchestrator.backends.letta_limits import CALL_TIMEOUT, Limits
from orchestrator.errors import BackendError

AGENT_INCLUDE: list[
    Literal[
        "agent.blocks",
        "agent.tools",
        "agent.sources",
        "agent.tags",
        "agent.secrets",
        "agent.managed_group",
    ]
] = [
    "agent.blocks",
    "agent.tools",
    "agent.sources",
    "agent.tags",
    "agent.secrets",
    "agent.managed_group",
]
PAGE = 100
MESSAGE_COUNT_LIMIT = 100


class LettaAdmin(LettaExtras):
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = CALL_TIMEOUT,
        http_client: Any = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.version: str | None = None  # the server's, once checked (before the first call)
        self._limits = Limits(call=timeout)
        self._key = api_key
        # No automatic retries: a create retried after a lost response would make a second
        # agent with the same identity. A failed apply is completed by running it again.
        self._client = Letta(
            base_url=self.base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
        )

    @staticmethod
    def _as_tool(t: Any) -> Tool:
        return _tool(t)

    def __repr__(self) -> str:  # never show the key
        return f"LettaAdmin({self.base_url!r})"

    def check(self) -> str:
        """The server's version; `NotLetta`, `ServerUnavailable` or a timeout otherwise."""
        self.version = check_health(self._client, self.base_url, self._limits.health(), self._key)
        return self.version

    def _call(self, what: str) -> AbstractContextManager[None]:
        if self.version is None:  # once, so a foreign server is named as such at once
            self.check()
        return translated(what, self.base_url)

    # ----- agents -----
    def list_agents(self, tags: Sequence[str] = ()) -> list[AgentState]:
        args: dict[str, Any] = {"include": AGENT_INCLUDE, "limit": PAGE}
        if tags:
            args.update(tags=list(tags), match_all_tags=True)
        with self._call("list agents"):
            return [_agent(a) for a in listed(self._client.agents.list(**args))]

    def get_agent(self, agent_id: str) -> AgentState:
        with self._call(f"read agent {agent_id}"):
            return _agent(self._client.agents.retrieve(agent_id, include=list(AGENT_INCLUDE)))

    def create_agent(self, new: NewAgent, extra: Mapping[str, Any] | None = None) -> AgentState:
        with self._call(f"create agent {new.name!r}"):
            return _agent(self._client.agents.create(**agent_args(new), **dict(extra or {})))

    def update_agent(self, agent_id: str, **fields: Any) -> None:
        unknown = set(fields) - AGENT_UPDATE_FIELDS
        if unknown:
            raise BackendError(f"update_agent: unknown fields {sorted(unknown)}")
        with self._call(f"update agent {agent_id}"):
            self._client.agents.update(agent_id, **agent_update_args(fields))

    def delete_agent(self, agent_id: str) -> None:
        with self._call(f"delete agent {agent_id}"):
            self._client.agents.delete(agent_id)

    def count_passages(self, agent_id: str) -> int:
        with self._call(f"count passages of {agent_id}"):
            return len(listed(self._client.agents.passages.list(agent_id, limit=1000)))

    def list_passages(self, agent_id: str) -> list[Passage]:
        with self._call(f"list passages of {agent_id}"):
            return [
                Passage(p.id or "", p.text or "", tuple(p.tags or ()))
                for p in listed(self._client.agents.passages.list(agent_id, limit=1000))
            ]

    def create_passage(self, agent_id: str, text: str, tags: Sequence[str]) -> None:
        with self._call(f"add an archival passage to {agent_id}"):
            self._client.agents.passages.create(agent_id, text=text, tags=list(tags))

    def delete_passage(self, agent_id: str, passage_id: str) -> None:
        with self._call(f"delete passage {passage_id}"):
            self._client.agents.passages.delete(passage_id, agent_id=agent_id)

    def count_messages(self, agent_id: str) -> int:
        """Messages other than the system prompt (a new agent has only that one); counted up
        to MESSAGE_COUNT_LIMIT, which is enough to say that a history would be lost."""
        with self._call(f"count messages of {agent_id}"):
            found = listed(self._client.agents.messages.list(agent_id, limit=MESSAGE_COUNT_LIMIT))
            return sum(getattr(m, "message_type", "") != "system_message" for m in found)

    def list_models(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        with self._call("list models"):
            llms = listed(self._client.models.list())
            embeddings = listed(self._client.models.embeddings.list())
            return (
                tuple(m.handle for m in llms if m.handle),
                tuple(m.handle for m in embeddings if m.handle),
            )

    # ----- blocks -----
    def list_blocks(self, tags: Sequence[str] = ()) -> list[Block]:
        args: dict[str, Any] = {"limit": PAGE}
        if tags:
            args.update(tags=list(tags), match_all_tags=True)
        with self._call("list blocks"):
            return [_block(b) for b in listed(self._client.blocks.list(**args))]

    def create_block(self, new: NewBlock) -> Block:
        with self._call(f"create block {new.label!r}"):
            return _block(self._client.blocks.create(**block_args(new)))

    def update_block(self, block_id: str, **fields: Any) -> None:
        with self._call(f"update block {block_id}"):
            self._client.blocks.update(block_id, **fields)

    def delete_block(self, block_id: str) -> None:
        with self._call(f"delete block {block_id}"):
            self._client.blocks.delete(block_id)

    def attach_block(self, agent_id: str, block_id: str) -> None:
        with self._call(f"attach block {block_id} to {agent_id}"):
            self._client.agents.blocks.attach(block_id, agent_id=agent_id)

    def detach_block(self, agent_id: str, block_id: str) -> None:
        with self._call(f"detach block {block_id} from {agent_id}"):
            self._client.agents.blocks.detach(block_id, agent_id=agent_id)

    # ----- tools -----
    def list_tools(self) -> list[Tool]:
        with self._call("list tools"):
            return [_tool(t) for t in listed(self._client.tools.list(limit=PAGE))]

    def upsert_tool(self, new: NewTool) -> Tool:
        args: dict[str, Any] = {
            "source_code": new.source_code,
            "tags": list(new.tags),
            "pip_requirements": [_requirement(r) for r in new.pip_requirements],
        }
        if new.description:
            args["description"] = new.description
        with self._call("upsert tool"):
            return _tool(self._client.tools.upsert(**args))

    def delete_tool(self, tool_id: str) -> None:
        with self._call(f"delete tool {tool_id}"):
            self._client.tools.delete(tool_id)

    def attach_tool(self, agent_id: str, tool_id: str) -> None:
        with self._call(f"attach tool {tool_id} to {agent_id}"):
            self._client.agents.tools.attach(tool_id, agent_id=agent_id)

    def detach_tool(self, agent_id: str, tool_id: str) -> None:
        with self._call(f"detach tool {tool_id} from {agent_id}"):
            self._client.agents.tools.detach(tool_id, agent_id=agent_id)

    # ----- folders -----
    def list_folders(self) -> list[Folder]:
        with self._call("list folders"):
            folders = list(listed(self._client.folders.list(limit=PAGE)))
            return [
                _folder(f, listed(self._client.folders.files.list(f.id, limit=1000)))
                for f in folders
            ]

    def create_folder(
        self, name: str, description: str | None, embedding: str, metadata: Mapping[str, Any]
    ) -> Folder:
        args: dict[str, Any] = {"name": name, "embedding": embedding, "metadata": dict(metadata)}
        if description:
            args["description"] = description
        with self._call(f"create folder {name!r}"):
            return _folder(self._client.folders.create(**args), [])

    def update_folder(self, folder_id: str, **fields: Any) -> None:
        with self._call(f"update folder {folder_id}"):
            self._client.folders.update(folder_id, **fields)

    def delete_folder(self, folder_id: str) -> None:
        with self._call(f"delete folder {folder_id}"):
            self._client.folders.delete(folder_id)

    def upload_file(self, folder_id: str, name: str, content: bytes) -> FolderFile:
        with self._call(f"upload {name!r}"):
            done = self._client.folders.files.upload(
                folder_id,
                file=(name.rsplit("/", 1)[-1], content),
                name=name,
                duplicate_handling="replace",
            )
            return FolderFile(done.id or "", name)

    def file_contents(self, folder_id: str) -> dict[str, str]:
        with self._call(f"read files of {folder_id}"):
            return {
                (f.original_file_name or f.file_name or ""): f.content or ""
                for f in listed(
                    self._client.folders.files.list(folder_id, include_content=True, limit=1000)
                )
            }

    def delete_file(self, folder_id: str, file_id: str) -> None:
        with self._call(f"delete file {file_id}"):
            self._client.folders.files.delete(file_id, folder_id=folder_id)

    def attach_folder(self, agent_id: str, folder_id: str) -> None:
        with self._call(f"attach folder {folder_id} to {agent_id}"):
            self._client.agents.folders.attach(folder_id, agent_id=agent_id)

    def detach_folder(self, agent_id: str, folder_id: str) -> None:
        with self._call(f"detach folder {folder_id} from {agent_id}"):
            self._client.agents.folders.detach(folder_id, agent_id=agent_id)


# ----- letta-client objects -> plain data -----
def _requirement(text: str) -> dict[str, str]:
    for op in ("==", ">=", "<=", "~=", ">", "<"):
        if op in text:
            name, version = text.split(op, 1)
            return {"name": name.strip(), "version": op + version.strip()}
    return {"name": text.strip()}


def _requirement_text(req: Any) -> str:
    version = req.version or ""
    return f"{req.name}{version}"


def _block(b: Any) -> Block:
    return Block(
        id=b.id,
        label=b.label or "",
        value=b.value or "",
        limit=b.limit,
        description=b.description,
        read_only=bool(b.read_only),
        tags=tuple(b.tags or ()),
        metadata=dict(b.metadata or {}),
    )


def _tool(t: Any) -> Tool:
    return Tool(
        id=t.id,
        name=t.name or "",
        source_code=t.source_code or "",
        description=t.description,
        tool_type=str(t.tool_type or "custom"),
        pip_requirements=tuple(_requirement_text(r) for r in t.pip_requirements or ()),
        tags=tuple(t.tags or ()),
    )


def _folder(f: Any, files: Any) -> Folder:
    embedding = getattr(f.embedding_config, "handle", None) if f.embedding_config else None
    return Folder(
        id=f.id,
        name=f.name,
        description=f.description,
        embedding=embedding,
        metadata=dict(f.metadata or {}),
        files=tuple(FolderFile(x.id, x.original_file_name or x.file_name or "") for x in files),
    )


def _agent(a: Any) -> AgentState:
    env = a.secrets or a.tool_exec_environment_variables or ()
    return AgentState(
        id=a.id,
        name=a.name,
        model=a.model,
        embedding=a.embedding,
        system=a.system or "",
        description=a.description,
        context_window=a.llm_config.context_window if a.llm_config else None,
        tags=tuple(a.tags or ()),
        metadata=dict(a.metadata or {}),
        blocks=tuple(_block(b) for b in a.blocks or ()),
        tools=tuple(_tool(t) for t in a.tools or ()),
        folder_ids=tuple(s.id for s in a.sources or ()),
        tool_env_keys=tuple(sorted(e.key for e in env)),
        tool_rules=tuple(r.model_dump(exclude_none=True) for r in a.tool_rules or ()),
        settings={k: getattr(a, k, None) for k in AGENT_SETTINGS},
        companion_ids=_companions(a),
    )


def _companions(a: Any) -> tuple[str, ...]:
    """The sleep-time agents of `a` (Letta keeps them in a "sleeptime" group it manages)."""
    group = getattr(a, "managed_group", None) or getattr(a, "multi_agent_group", None)
    if group is None or getattr(group, "manager_type", None) != "sleeptime":
        return ()
    return tuple(i for i in group.agent_ids or () if i != a.id)


if TYPE_CHECKING:  # mypy checks each method's signature against the Protocol, not only names
    from orchestrator.backends.admin import AdminBackend

    def _is_an_admin_backend(backend: LettaAdmin) -> AdminBackend:
        return backend
