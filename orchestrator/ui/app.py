"""The web app of `orchestrate ui`: Starlette routes over the run records, read-only.

Owns `create_app(location)`, `serve(...)` and the routes (the template environment and the
security headers are ui.pages; the queries ui.queries; the SVG ui.dag and ui.timeline).
Routes (GET only; any
other method is 405): `/` the runs list (`?pipeline=&status=`, and `before=` / `after=` a
run's place for the older / newer page), `/runs/{id}` one run,
`/runs/{id}/live` the part of it that changes (HTML), `/runs/{id}/stream` server-sent
events (`update` when the run's rows change, `done` when it stops), `/static/*` the CSS
and JS (no CDN). Every response carries a strict Content-Security-Policy (scripts and
styles only from this server, no inline script), and the Host header must be the address
served (a web page elsewhere cannot reach the records through DNS rebinding).

Strings from prompts, outputs, errors and inputs are escaped by Jinja's autoescape; the SVG
modules escape their own text. Nothing shown comes from anywhere but the records, which
hold only redacted text (run.secrets); the records URL is shown without its password.

Must not: write records, or serve anything but GET.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from orchestrator.compile.plan import Plan
from orchestrator.errors import OrchestrateError
from orchestrator.run import records_pg
from orchestrator.run.records import Records
from orchestrator.run.status import RUNNING, SKIPPED, SUCCEEDED
from orchestrator.ui import dag, pages, queries, shape
from orchestrator.ui.pages import HostCheck, SecurityHeaders, environment
from orchestrator.ui.timeline import timeline_svg

HERE = Path(__file__).resolve().parent
POLL_SECONDS = 0.5  # how often a live stream looks at the records
HEARTBEAT_SECONDS = 15.0
# What reading the records may raise (psycopg's only if it is installed).
READ_ERRORS: tuple[type[BaseException], ...] = (
    OrchestrateError,
    sqlite3.Error,
    *records_pg.database_errors(),
)
STOPPING = threading.Event()  # set on Ctrl-C: live streams end instead of being cancelled
UNITS_SHOWN = 400  # unit rows in a run's page (the graph and the timeline show them all)


class _Store:
    """The records, opened on first need (a SQLite file that does not exist yet is not
    created: the list just reads empty until a run writes it)."""

    def __init__(self, location: str):
        self.location = location
        self._records: Records | None = None
        self._lock = threading.Lock()  # requests run in worker threads

    def get(self) -> Records | None:
        with self._lock:
            if self._records is None:
                if not records_pg.is_url(self.location) and not Path(self.location).exists():
                    return None
                self._records = Records(self.location)
            return self._records

    def reset(self) -> None:
        with self._lock:
            records, self._records = self._records, None
        if records is not None:
            with contextlib.suppress(Exception):  # it is already broken
                records.close()

    def shown(self) -> str:
        return records_pg.safe_url(self.location)

    def close(self) -> None:
        if self._records is not None:
            self._records.close()


def create_app(location: str, host: str = "127.0.0.1") -> Starlette:
    store, env = _Store(location), environment()

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(
            env.get_template(name).render(records=store.shown(), **context), status_code=status
        )

    def runs_list(request: Request) -> Response:
        params = request.query_params
        flt = queries.RunFilter(
            pipeline=params.get("pipeline") or None,
            status=params.get("status") or None,
            before=queries.Cursor.parse(params.get("before")),
            after=queries.Cursor.parse(params.get("after")),
        )
        records = store.get()
        data = queries.runs_page(records, flt) if records else None

        def link(direction: str, cursor: queries.Cursor) -> str:
            query = {k: v for k, v in (("pipeline", flt.pipeline), ("status", flt.status)) if v}
            return "/?" + urllib.parse.urlencode({**query, direction: cursor.text()})

        return page("runs.html", data=data, flt=flt, link=link)

    def run_detail(request: Request) -> Response:
        context = _run_context(store, request.path_params["run_id"])
        if context is None:
            return page("missing.html", 404, run_id=request.path_params["run_id"])
        return page("run.html", **context)

    def run_live(request: Request) -> Response:
        context = _run_context(store, request.path_params["run_id"])
        if context is None:
            return Response("unknown run", status_code=404)
        return page("_live.html", **context)

    async def run_stream(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        return StreamingResponse(
            _changes(store, run_id, request),
            media_type="text/event-stream",
            headers={"cache-control": "no-store"},
        )

    hosts = (
        None
        if host in ("0.0.0.0", "::", "")
        else frozenset({pages.host_of(host), "127.0.0.1", "localhost", "::1"})
    )
    routes = [
        Route("/", runs_list),
        Route("/runs/{run_id}", run_detail),
        Route("/runs/{run_id}/live", run_live),
        Route("/runs/{run_id}/stream", run_stream),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    def unavailable(request: Request, exc: Exception) -> Response:
        # the records cannot be read (PostgreSQL down, a newer schema): say so, keep serving;
        # a connection that failed is dropped, the next request opens a new one
        if not isinstance(exc, OrchestrateError):
            store.reset()
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return page("missing.html", 503, run_id=None, problem=records_pg.safe_url(first))

    handlers: dict[Any, Any] = {error: unavailable for error in READ_ERRORS}
    middleware = [Middleware(SecurityHeaders), Middleware(HostCheck, allowed=hosts)]
    return Starlette(
        routes=routes,
        exception_handlers=handlers,
        middleware=middleware,
        lifespan=lambda app: _closing(store),
    )


@contextlib.asynccontextmanager
async def _closing(store: _Store) -> AsyncIterator[None]:
    yield
    store.close()


def _run_context(store: _Store, run_id: str) -> dict[str, Any] | None:
    records = store.get()
    found = queries.run_page_data(records, run_id) if records else None
    if found is None:
        return None
    run, units = found
    group = _shape(run, units)
    shape.apply_units(group, units)
    now = time.time()
    shown = _units_shown(units)
    return {
        "run": run,
        "units": shown,
        "hidden": len(units) - len(shown),
        "now": now,
        "dag": Markup(dag.dag_svg(group)),  # noqa: S704 - escaped in ui.dag
        "timeline": Markup(timeline_svg(units, now)),  # escaped in ui.timeline
        "critical": shape.critical_path(group),
        "live": run["status"] == RUNNING,
    }


def _units_shown(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most UNITS_SHOWN unit rows (a 10,000-item for_each would make a page of tens of
    megabytes): every unit that did not succeed or was skipped first, then the others in
    the records' order; shown in the records' order."""
    if len(units) <= UNITS_SHOWN:
        return units
    quiet = (SUCCEEDED, SKIPPED)
    order = sorted(range(len(units)), key=lambda i: (units[i]["status"] in quiet, i))
    return [units[i] for i in sorted(order[:UNITS_SHOWN])]


def _shape(run: dict[str, Any], units: list[dict[str, Any]]) -> shape.Group:
    """The plan's shape if the recorded pipeline file still compiles to what ran (same
    hash), else the rows'."""
    try:
        stat = os.stat(run["file"])
    except (OSError, TypeError):
        return shape.from_units(units)
    plan = _plan(str(run["file"]), stat.st_mtime_ns, stat.st_size)
    if plan is None or plan.source_hash != run["file_hash"]:
        return shape.from_units(units)
    return shape.from_plan(plan)


@functools.lru_cache(maxsize=32)
def _plan(file: str, mtime_ns: int, size: int) -> Plan | None:
    """Compiled once per version of the file (a live page asks again at every change)."""
    from orchestrator.compile import load_plan

    try:
        return load_plan(file)
    except (OrchestrateError, OSError):
        return None


def _mark(store: _Store, run_id: str) -> tuple[Any, ...] | None:
    records = store.get()
    return queries.change_mark(records, run_id) if records else None


async def _changes(store: _Store, run_id: str, request: Request) -> AsyncIterator[str]:
    last: Any = None
    quiet = 0.0
    while not STOPPING.is_set() and not await request.is_disconnected():
        try:  # in a thread: opening PostgreSQL records may wait for the network
            mark = await run_in_threadpool(_mark, store, run_id)
        except READ_ERRORS:
            store.reset()
            return  # closed without `done`: the browser's EventSource reconnects by itself
        if mark is None:
            yield "event: done\ndata: unknown\n\n"
            return
        if mark != last:
            last, quiet = mark, 0.0
            yield f"event: update\ndata: {json.dumps(str(mark[0]))}\n\n"
            if mark[0] != RUNNING:
                yield "event: done\ndata: finished\n\n"
                return
        elif quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield ": still here\n\n"
        await asyncio.sleep(POLL_SECONDS)
        quiet += POLL_SECONDS


def serve(location: str, host: str, port: int) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            STOPPING.set()  # open streams end at their next look, so shutdown is clean
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        create_app(location, host),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    Server(config).run()
