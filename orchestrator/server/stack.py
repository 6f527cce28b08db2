"""The embedded local stack's API, used by the CLI (`orchestrate server ...`) and the tests.

Owns `start`, `stop`, `status`, `embedded_base_url` and the default model/embedding handles
(`handles_at`: the embedded stack's, for a server URL).
Start order matters: PostgreSQL, the schema bootstrap, the model endpoint, then Letta (Letta
lists the models of OPENAI_API_BASE once, at start-up). Starting twice is harmless; stale
state is cleaned; every wait has a timeout whose error names the log to read.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable

from orchestrator import settings
from orchestrator.errors import ServerError

from . import components, install, own_stack, phoenix, postgres, processes, state, temporal_dev
from .info import ComponentStatus, StackInfo, StackStatus, StartOptions
from .model_endpoint.http_server import DEFAULT_MODEL_ID
from .paths import ENV_LETTA_PORT, ENV_MODEL_PORT, StackPaths

__all__ = [
    "ComponentStatus",
    "StackInfo",
    "StackStatus",
    "StartOptions",
    "default_embedding_handle",
    "default_model_handle",
    "embedded_base_url",
    "embedded_model_handle",
    "handles_at",
    "start",
    "status",
    "stop",
]

EMBEDDING_HANDLE = "openai/text-embedding-3-small"
ENV_MODEL_HANDLE = "ORCHESTRATE_MODEL"  # the old ORCHESTRATE_MODEL_HANDLE still works
Progress = Callable[[str], None]


def default_model_handle() -> str:
    """The chat model handle Letta registers for the local model endpoint."""
    return f"openai-proxy/{DEFAULT_MODEL_ID}"


def default_embedding_handle() -> str:
    return EMBEDDING_HANDLE


def embedded_model_handle(home: str | os.PathLike | None = None) -> str | None:
    """The chat model handle for agents on the embedded stack: the local model's, or, when
    the stack was started with an external endpoint, $ORCHESTRATE_MODEL (else None:
    the caller must ask for one)."""
    model = state.read(StackPaths.resolve(home)).get("model") or {}
    if model.get("external"):
        return settings.value(ENV_MODEL_HANDLE)
    return default_model_handle()


def handles_at(
    base_url: str, home: str | os.PathLike | None = None
) -> tuple[str | None, str] | None:
    """The embedded stack's (model, embedding) handles if it is the server at `base_url`,
    else None (another server's handles are not known here). With an external model
    endpoint, the model's is only known if ORCHESTRATE_MODEL names it."""
    if embedded_base_url(home) != base_url:
        return None
    return embedded_model_handle(home), default_embedding_handle()


def start(
    home: str | os.PathLike | None = None,
    options: StartOptions | None = None,
    progress: Progress = lambda _m: None,
) -> StackInfo:
    """Install (first run), start what is not running, wait until healthy. Idempotent."""
    opts = options or StartOptions.from_env()
    paths = StackPaths.resolve(home)
    started = time.monotonic()
    with state.locked(paths):
        data, gone = state.prune(paths, state.read(paths))
        if gone:
            progress(f"removed stale state for: {', '.join(gone)} (process gone)")
        if _healthy(paths, data):
            return _info(paths, data, already=True, installed=False, started=started)
        _reconcile_model_mode(opts, data)
        _check_ports(opts, data, paths)  # before installing anything: fail fast on a busy port

        def record(name: str, entry: dict | None) -> None:
            if entry is None:
                data.pop(name, None)
            else:
                data[name] = entry
            state.write(paths, data)

        installed = install.ensure_installed(paths, progress)
        progress("starting PostgreSQL")
        pg = postgres.start(paths)
        record("postgres", {"pid": pg["pid"], "uri": pg["uri"], "pgdata": str(paths.pgdata)})
        base, key = _model_base(opts)
        env = components.letta_env(paths, pg["uri"], base, key)
        if not paths.schema_marker.exists():
            progress("creating Letta's database schema (first run only)")
            postgres.bootstrap_if_needed(paths, env)
        if opts.model_base_url:
            record("model", {"external": True, "url": base})
        elif "model" not in data:
            progress(f"starting the local model endpoint on port {opts.model_port}")
            components.start_model(
                paths, opts.model_port, opts.model_script, opts.model_delay, record
            )
        if "letta" in data:  # running but not answering yet (still starting?): give it the timeout
            letta = data["letta"]
            processes.wait_http(
                f"{letta['url']}/v1/health/",
                pid=letta["pid"],
                timeout=opts.timeout,
                what="the Letta server",
                log=paths.log("letta"),
            )
        else:
            progress(f"starting the Letta server on port {opts.letta_port} (about 15-30 s)")
            components.start_letta(paths, opts.letta_port, env, opts.timeout, record)
        return _info(paths, data, already=False, installed=installed, started=started)


def _model_base(opts: StartOptions) -> tuple[str, str]:
    """(OPENAI_API_BASE, OPENAI_API_KEY) for Letta: the external endpoint, or ours."""
    if opts.model_base_url:
        return opts.model_base_url.rstrip("/"), opts.model_api_key or "unset"
    return components.model_url(opts.model_port), components.LOCAL_API_KEY


def stop(home: str | os.PathLike | None = None, progress: Progress = lambda _m: None) -> list[str]:
    """Stop Letta, the model endpoint and PostgreSQL. Returns the names of what was running."""
    paths = StackPaths.resolve(home)
    stopped: list[str] = []
    if not paths.home.is_dir():  # nothing was ever started here: do not create the state dir
        return stopped
    with state.locked(paths):
        data = state.read(paths)
        for name in ("letta", "model"):
            entry = data.get(name) or {}
            if entry.get("pid") and processes.alive(entry["pid"], entry.get("ticks")):
                progress(f"stopping {name} (pid {entry['pid']})")
                processes.terminate(entry["pid"], entry.get("ticks"), timeout=20.0)
                stopped.append(name)
        temporal = data.get("temporal")
        if isinstance(temporal, dict) and temporal.get("pid"):
            progress(f"stopping temporal (pid {temporal['pid']})")
            if temporal_dev.stop_entry(temporal):
                stopped.append("temporal")
        viewer = data.get("phoenix")
        if isinstance(viewer, dict) and viewer.get("pid"):
            progress(f"stopping phoenix (pid {viewer['pid']})")
            if phoenix.stop_entry(viewer):
                stopped.append("phoenix")
        if state.postgres_pid(paths):
            progress("stopping PostgreSQL")
            postgres.stop(paths)
            stopped.append("postgres")
        paths.state_file.unlink(missing_ok=True)
    return stopped


def status(home: str | os.PathLike | None = None) -> StackStatus:
    """What runs (pids, URLs, health, memory); drops stale state entries on the way."""
    paths = StackPaths.resolve(home)
    data, gone = state.prune(paths, state.read(paths))
    comps = [_http_status("letta", data.get("letta"), paths, "/v1/health/")]
    model = data.get("model") or {}
    if model.get("external"):
        comps.append(
            ComponentStatus("model", True, url=model.get("url"), detail="external endpoint")
        )
    else:
        comps.append(_http_status("model", model or None, paths, "/health"))
    pg_pid = state.postgres_pid(paths)
    comps.append(
        ComponentStatus(
            "postgres",
            pg_pid is not None,
            pid=pg_pid,
            log=paths.log("postgres"),
            rss_bytes=processes.rss_bytes(pg_pid) if pg_pid else None,
            tree_rss_bytes=processes.tree_rss_bytes(pg_pid) if pg_pid else None,
            detail=f"unix socket in {_socket_dir(data, paths)}" if pg_pid else "",
        )
    )
    temporal = temporal_dev.status(paths, data.get("temporal"))  # optional: only if started
    if temporal is not None:
        comps.append(temporal)
    viewer = phoenix.status(paths, data.get("phoenix"))  # optional too
    if viewer is not None:
        comps.append(viewer)
    return StackStatus(paths.home, tuple(comps), tuple(gone))


def _socket_dir(data: dict, paths: StackPaths) -> str:
    uri = (data.get("postgres") or {}).get("uri", "")
    hosts = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query).get("host")
    return hosts[0] if hosts else str(paths.pgdata)


def embedded_base_url(home: str | os.PathLike | None = None) -> str | None:
    """The embedded Letta server's URL if it is running (per its state file), else None."""
    paths = StackPaths.resolve(home)
    letta = state.read(paths).get("letta") or {}
    return letta.get("url") if processes.alive(letta.get("pid"), letta.get("ticks")) else None


def _reconcile_model_mode(opts: StartOptions, data: dict) -> None:
    """When Letta is (re)started, its model endpoint follows this start's options."""
    model = data.get("model")
    if "letta" in data or not model or bool(model.get("external")) == bool(opts.model_base_url):
        return
    if not model.get("external"):
        processes.terminate(model["pid"], model.get("ticks"), timeout=5.0)
    del data["model"]


def _check_ports(opts: StartOptions, data: dict, paths: StackPaths) -> None:
    model = data.get("model") or {}
    model_port = (
        None
        if opts.model_base_url or model.get("external")
        else (model.get("port") or opts.model_port)
    )
    if "letta" not in data and opts.letta_port == model_port:
        raise ServerError(
            f"Letta and the local model endpoint cannot share port {model_port}: give them "
            f"different ports (--letta-port / {ENV_LETTA_PORT}, --model-port / {ENV_MODEL_PORT})"
        )
    if not opts.model_base_url and "model" not in data:
        if processes.port_in_use(opts.model_port, components.HOST):
            own_stack.check_model_port(opts.model_port, paths.home)
        components.check_port(opts.model_port, "local model endpoint", ENV_MODEL_PORT)
    if "letta" not in data:
        components.check_port(opts.letta_port, "Letta server", ENV_LETTA_PORT)


def _http_status(name: str, entry: dict | None, paths: StackPaths, health: str) -> ComponentStatus:
    if not entry:
        return ComponentStatus(name, False, log=paths.log(name))
    pid, port = entry["pid"], entry.get("port")
    root = f"http://{components.HOST}:{port}"
    return ComponentStatus(
        name,
        True,
        pid=pid,
        url=entry.get("url"),
        port=port,
        healthy=processes.http_ok(root + health),
        rss_bytes=processes.rss_bytes(pid),
        tree_rss_bytes=processes.tree_rss_bytes(pid),
        log=paths.log(name),
    )


def _healthy(paths: StackPaths, data: dict) -> bool:
    letta, model = data.get("letta"), data.get("model")
    if not (letta and model and state.postgres_pid(paths)):
        return False
    return processes.http_ok(f"{letta['url']}/v1/health/")


def _info(
    paths: StackPaths, data: dict, *, already: bool, installed: bool, started: float
) -> StackInfo:
    model = data.get("model") or {}
    external = bool(model.get("external"))
    pids = {n: data[n]["pid"] for n in ("letta", "model") if (data.get(n) or {}).get("pid")}
    pg_pid = state.postgres_pid(paths)
    if pg_pid:
        pids["postgres"] = pg_pid
    return StackInfo(
        home=paths.home,
        base_url=data["letta"]["url"],
        model_url=None if external else model.get("url"),
        model_base_url=model.get("url", ""),
        model_handle=os.environ.get(ENV_MODEL_HANDLE) if external else default_model_handle(),
        embedding_handle=EMBEDDING_HANDLE,
        already_running=already,
        installed=installed,
        seconds=round(time.monotonic() - started, 1),
        pids=pids,
    )
