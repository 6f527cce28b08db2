"""Schema-valid resource documents -> `BlockSpec` / `ToolSpec` / `FolderSpec` / `AgentSpec`,
reading the files they point at (`system_file`, `value_file`, a tool's `source_file`, a
folder's `files` globs, all relative to the YAML file).

Owns: those reads, each through files.py (regular files, size limits, the trust boundary:
`..`, absolute paths and symlinks that lead outside the resource directory are refused
unless allowed), and the checks that need the files (a tool's source parses, else the
syntax error is reported at its line in the .py file, and defines its function).
Every problem is a located issue at the key that named the file.

Must not: find or parse YAML files (resources.py does), or import what it reads.
"""

from __future__ import annotations

import ast
import ipaddress
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import Issue
from orchestrator.spec.agents import agent_issues, build_agent, build_block, env_issues
from orchestrator.spec.files import Boundary, FileProblem, file_digest, glob_files, read_text
from orchestrator.spec.limits import MAX_TEXT_FILE_BYTES, MAX_UPLOAD_FILE_BYTES
from orchestrator.spec.model import AgentSpec, BlockSpec, FolderSpec, McpServerSpec, ToolSpec
from orchestrator.spec.suggest import did_you_mean
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at

RELATIVE_HINT = "paths are relative to the YAML file"
_GLOB = re.compile(r"[*?\[]")


@dataclass
class ResourceDoc:
    doc: MarkedDoc
    base: Path  # directory of the YAML file: relative paths start here

    @property
    def data(self) -> dict:
        return self.doc.data


@dataclass
class Builder:
    """Builds resources of one directory; `issues` collects every problem."""

    boundary: Boundary
    issues: list[Issue]

    def _problem(self, item: ResourceDoc, path: tuple, problem: FileProblem) -> None:
        self.issues.append(
            issue_at(item.doc.mark(path), path, problem.message, problem.hint or RELATIVE_HINT)
        )

    def read(self, item: ResourceDoc, path: tuple, relative: str) -> str:
        try:
            target = self.boundary.check(item.base / relative, relative)
            return read_text(target, MAX_TEXT_FILE_BYTES, relative)
        except FileProblem as problem:
            self._problem(item, path, problem)
            return ""

    def _with_files(self, item: ResourceDoc, data: dict, path: tuple) -> dict:
        """`data` with `value_file` read into `value`."""
        if "value_file" not in data:
            return data
        return {**data, "value": self.read(item, path + ("value_file",), data["value_file"])}

    def block(self, item: ResourceDoc) -> BlockSpec:
        self.issues.extend(env_issues(item.doc, item.data, ()))
        return build_block(item.doc, item.data["name"], self._with_files(item, item.data, ()), ())

    def agent(
        self,
        item: ResourceDoc,
        blocks: Collection[str] | None,
        folders: Collection[str] | None,
        servers: Collection[str] | None = None,
    ) -> AgentSpec:
        """`blocks` / `folders` / `servers` (McpServers): the names that exist (None: unknown,
        none is reported)."""
        data = dict(item.data)
        if "system_file" in data:
            data["system"] = self.read(item, ("system_file",), data["system_file"])
        data["memory_blocks"] = [
            self._with_files(item, block, ("memory_blocks", i))
            for i, block in enumerate(data.get("memory_blocks", ()))
        ]
        data["archival"] = [
            self._passage(item, entry, ("archival", i))
            for i, entry in enumerate(data.get("archival", ()))
        ]
        self.issues.extend(agent_issues(item.doc, item.data, (), blocks))
        known: Collection[str] = folders if folders is not None else ()
        for i, folder in enumerate(data.get("folders", ()) if folders is not None else ()):
            if folder not in known:
                where = ("folders", i)
                self.issues.append(
                    issue_at(
                        item.doc.mark(where),
                        where,
                        f"unknown folder '{folder}'",
                        did_you_mean(folder, known, fallback="define it in a kind: Folder file"),
                    )
                )
        self._mcp_tool_issues(item, data, servers)
        return build_agent(item.doc, data["name"], data, ())

    def _mcp_tool_issues(
        self, item: ResourceDoc, data: dict, servers: Collection[str] | None
    ) -> None:
        seen: set[tuple[str, str]] = set()
        for i, entry in enumerate(data.get("tools", ())):
            if not isinstance(entry, dict):
                continue
            where = ("tools", i)
            key = (entry["mcp"], entry["tool"])
            if servers is not None and key[0] not in servers:
                self.issues.append(
                    issue_at(
                        item.doc.mark(where + ("mcp",)),
                        where + ("mcp",),
                        f"unknown MCP server '{key[0]}'",
                        did_you_mean(
                            key[0], servers, fallback="define it in a kind: McpServer file"
                        ),
                    )
                )
            elif key in seen:
                self.issues.append(
                    issue_at(
                        item.doc.mark(where),
                        where,
                        f"MCP tool '{key[1]}' of '{key[0]}' is listed twice",
                    )
                )
            seen.add(key)

    def mcp_server(self, item: ResourceDoc) -> McpServerSpec:
        """An McpServer: stdio takes command/args/env, sse and streamable_http url/headers."""
        data = item.data
        transport = data["transport"]
        wanted, other = (
            (("command",), ("url", "headers"))
            if transport == "stdio"
            else (("url",), ("command", "args", "env"))
        )
        for key in wanted:
            if key not in data:
                self.issues.append(
                    issue_at(item.doc.mark(()), (key,), f"a {transport} MCP server needs '{key}'")
                )
        for key in other:
            if key in data:
                self.issues.append(
                    issue_at(
                        item.doc.key_mark((key,)),
                        (key,),
                        f"'{key}' is not used by a {transport} MCP server",
                        "stdio servers take command, args and env; sse and streamable_http "
                        "servers take url and headers",
                    )
                )
        if (host := _private_host(data.get("url", ""))) is not None:
            self.issues.append(
                issue_at(
                    item.doc.mark(("url",)),
                    ("url",),
                    f"Letta refuses MCP servers on a private address ({host!r})",
                    "serve it on a public address (Letta 0.16.8 checks this), or run it with "
                    "transport: stdio",
                )
            )
        self.issues.extend(env_issues(item.doc, data, ()))
        return McpServerSpec(
            name=data["name"],
            transport=transport,
            command=data.get("command", ""),
            args=tuple(data.get("args", ())),
            env=dict(data.get("env", {})),
            url=data.get("url", ""),
            headers=dict(data.get("headers", {})),
            mark=item.doc.mark(()),
            field_marks={
                f"{key}.{name}": item.doc.mark((key, name))
                for key in ("env", "headers")
                for name in data.get(key, {})
            },
        )

    def _passage(self, item: ResourceDoc, entry: dict, path: tuple) -> dict:
        """An archival passage with a `file` read into its `text`."""
        if ("text" in entry) == ("file" in entry):
            self.issues.append(
                issue_at(
                    item.doc.mark(path),
                    path,
                    "a passage has either 'text' or 'file'",
                    "write it inline (text: ...) or name a file (file: ...)",
                )
            )
            return {**entry, "text": entry.get("text", "")}
        if "file" in entry:
            return {
                **entry,
                "source": entry["file"],
                "text": self.read(item, path + ("file",), entry["file"]),
            }
        return entry

    def tool(self, item: ResourceDoc) -> ToolSpec:
        data = item.data
        source = self.read(item, ("source_file",), data["source_file"])
        broken = _syntax_error(source, str(item.base / data["source_file"])) if source else None
        if broken is not None:
            self.issues.append(broken)
        elif source and not _defines_function(source, data["name"]):
            self.issues.append(
                issue_at(
                    item.doc.mark(("source_file",)),
                    ("source_file",),
                    f"'{data['source_file']}' defines no function '{data['name']}'",
                    "a tool's name is the name of its Python function",
                )
            )
        return ToolSpec(
            name=data["name"],
            source_code=source,
            source_file=str(item.base / data["source_file"]),
            description=data.get("description", ""),
            pip_requirements=tuple(data.get("pip_requirements", ())),
            mark=item.doc.mark(()),
        )

    def folder(self, item: ResourceDoc, base: Path) -> FolderSpec:
        """A folder; its files are named relative to the YAML file that declares it (the
        only directory that does not depend on the SOURCE plan/apply was given), or by
        their absolute path when they lie outside `base` (an --allow-path directory)."""
        files: dict[str, str] = {}
        for i, pattern in enumerate(item.data.get("files", ())):
            files.update(self._folder_files(item, ("files", i), pattern, base))
        return FolderSpec(
            name=item.data["name"],
            description=item.data.get("description", ""),
            embedding=item.data.get("embedding"),
            files=tuple(sorted(files.items())),
            root=str(item.base),
            mark=item.doc.mark(()),
        )

    def _folder_files(
        self, item: ResourceDoc, path: tuple, pattern: str, base: Path
    ) -> Mapping[str, str]:
        try:
            # Where the pattern starts must be inside: '/**/x' must not walk the whole disk.
            self.boundary.check(item.base / _fixed_prefix(pattern), pattern)
            matched = glob_files(item.base, pattern)
            if not matched:
                raise FileProblem(
                    f"'{pattern}' matches no files", "patterns are relative to the YAML file"
                )
            files = {}
            for found in matched:
                written = (
                    pattern
                    if not _GLOB.search(pattern)
                    else str(found)
                    if os.path.isabs(pattern)
                    else os.path.relpath(found, item.base)
                )
                real = self.boundary.check(found, written)
                files[_upload_name(real, item.base, base)] = file_digest(
                    real, MAX_UPLOAD_FILE_BYTES, written
                )
            return files
        except FileProblem as problem:
            self._problem(item, path, problem)
            return {}


# What Letta 0.16.8 refuses as an MCP server's host before it connects (its
# helpers/url_validation.py); names that resolve to private addresses it refuses later.
_PRIVATE_NAMES = ("localhost", "metadata.google.internal")
_PRIVATE_SUFFIXES = (".local", ".localdomain", ".home.arpa", ".svc", ".cluster.local")


_HOST = re.compile(r"^https?://(?:[^@/?#]*@)?(\[[^\]/]*\]|[^:/?#]*)", re.IGNORECASE)


def _private_host(url: str) -> str | None:
    found = _HOST.match(url)
    host = found.group(1).strip("[]") if found else ""
    name = host.rstrip(".").lower()
    if not name:
        return None
    if name in _PRIVATE_NAMES or name.endswith(_PRIVATE_SUFFIXES):
        return host
    try:
        return None if ipaddress.ip_address(name).is_global else host
    except ValueError:
        return None


def _fixed_prefix(pattern: str) -> str:
    """The leading part of a glob without wildcards ('docs/*.md' -> 'docs')."""
    fixed = []
    for part in Path(pattern).parts:
        if _GLOB.search(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def _syntax_error(source: str, file: str) -> Issue | None:
    """A tool source that Python cannot parse, located at its line in the .py file."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return Issue(
            file,
            exc.lineno or 0,
            exc.offset or 0,
            "",
            f"syntax error: {exc.msg}",
            "fix the tool's Python source",
        )
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        return Issue(
            file,
            0,
            0,
            "",
            f"not parseable Python: {type(exc).__name__}",
            "fix the tool's Python source",
        )
    return None


def _defines_function(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in tree.body
    )


def _upload_name(path: Path, yaml_dir: Path, base: Path) -> str:
    if not path.is_relative_to(base.resolve()):
        return path.as_posix()
    return Path(os.path.relpath(path, yaml_dir.resolve())).as_posix()
