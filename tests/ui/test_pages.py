"""The web view's pages over real run records (runs on the memory backend, the real runner
and records), through Starlette's test client: what is listed, filtered and paged, what one
run's page draws, that every string is escaped, no secret is shown, and the headers."""

from __future__ import annotations

import re
import secrets
import sqlite3
import textwrap
from xml.etree import ElementTree

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402

from orchestrator.backends.memory import MemoryBackend  # noqa: E402
from orchestrator.compile import compile_pipeline, load_plan  # noqa: E402
from orchestrator.errors import BackendError  # noqa: E402
from orchestrator.run.records import Records  # noqa: E402
from orchestrator.run.runner import RunOptions, start_run  # noqa: E402
from orchestrator.spec import load_pipeline_text  # noqa: E402
from orchestrator.ui.app import create_app  # noqa: E402
from orchestrator.ui.pages import CSP  # noqa: E402
from orchestrator.ui.queries import RunFilter, runs_page  # noqa: E402

SHAPES = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: shapes}
inputs: {token: {type: string, secret: true}, topic: {type: string}}
agents: {a: {}, b: {}}
steps:
  first: {agent: a, prompt: "start {{ inputs.topic }} with {{ inputs.token }}"}
  each: {agent: b, for_each: "{{ ['x', 'y', 'z'] }}", prompt: "item {{ item }} of {{ steps.first.output }}"}
  polish:
    loop:
      max_iterations: 2
      steps:
        rewrite: {agent: a, prompt: "rewrite {{ steps.each.output | length }}"}
  last: {agent: b, prompt: "end {{ steps.polish.ran }}"}
"""
LOCAL = "http://127.0.0.1:8290"  # the Host the app accepts (it refuses any other)


def _plan(text, path):
    path.write_text(text)
    return compile_pipeline(load_pipeline_text(text, str(path)))


@pytest.fixture
def made(tmp_path):
    """Records of real runs: one of each shape (with a secret input and a `<script>` reply),
    one that failed, and plain runs of a second pipeline."""
    backend, records = MemoryBackend(), Records(tmp_path / "runs.db")
    token = "tok-" + secrets.token_hex(8)
    backend.script(prompt_contains="start", replies=["<script>window.pwned=1</script> & <b>"])
    shapes = start_run(
        _plan(SHAPES, tmp_path / "shapes.yaml"),
        {"topic": "owls", "token": token},
        backend,
        records,
        options=RunOptions(),
    )
    assert shapes.status == "succeeded", shapes.error
    other = textwrap.dedent("""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {name: other}
        agents: {a: {}}
        steps: {only: {agent: a, prompt: "plain"}}
        """)
    plan = _plan(other, tmp_path / "other.yaml")
    backend.script(prompt_contains="plain", times=1, fail=BackendError("HTTP 400: no", status=400))
    failed = start_run(plan, {}, backend, records, options=RunOptions())
    assert failed.status == "failed"
    for _ in range(3):
        start_run(plan, {}, backend, records, options=RunOptions())
    records.close()
    yield {
        "db": tmp_path / "runs.db",
        "shapes": shapes.run_id,
        "failed": failed.run_id,
        "token": token,
        "dir": tmp_path,
    }


@pytest.fixture
def client(made):
    with TestClient(create_app(str(made["db"])), base_url=LOCAL) as c:
        yield c


def _run_ids(html):
    return re.findall(r'<tr class="run [^"]*" data-run="([^"]+)"', html)


def test_list_newest_first_with_filters(client, made):
    page = client.get("/")
    assert page.status_code == 200
    ids = _run_ids(page.text)
    assert len(ids) == 5 and ids[-1] == made["shapes"]  # the first run is listed last
    assert "5 runs" in page.text
    only = client.get("/", params={"pipeline": "shapes"}).text
    assert _run_ids(only) == [made["shapes"]]
    failed = client.get("/", params={"status": "failed"}).text
    assert _run_ids(failed) == [made["failed"]]
    assert (
        _run_ids(client.get("/", params={"pipeline": "other", "status": "succeeded"}).text)
        == ids[:3]
    )


def test_list_is_paged_by_keyset_in_the_query(made):
    records = Records(made["db"])
    try:
        statements: list[str] = []
        records._db.set_trace_callback(statements.append)
        first = runs_page(records, RunFilter(), per_page=2)
        second = runs_page(records, RunFilter(before=first.older), per_page=2)
        third = runs_page(records, RunFilter(before=second.older), per_page=2)
        back = runs_page(records, RunFilter(after=third.newer), per_page=2)
        records._db.set_trace_callback(None)
        everything = runs_page(records, RunFilter())
    finally:
        records.close()
    assert (first.total, first.first, first.newer) == (5, 0, None)
    assert (second.first, third.first, len(third.runs), third.older) == (2, 4, 1, None)
    ids = [r["id"] for r in everything.runs]
    assert [r["id"] for r in first.runs + second.runs + third.runs] == ids
    assert [r["id"] for r in back.runs] == ids[2:4] and back.first == 2
    assert not any("OFFSET" in s for s in statements)
    assert all(" LIMIT " in s for s in statements if "tokens" in s)


def test_pager_links_keep_the_filter(client, made):
    html = client.get("/", params={"pipeline": "other", "before": "junk"}).text  # ignored
    assert "runs 1–4 of 4" in html and 'rel="next"' not in html
    with_ties = client.get("/", params={"pipeline": "other"}).text
    assert _run_ids(with_ties) == _run_ids(html)


def test_pages_follow_their_links(made):
    from orchestrator.ui import queries

    with TestClient(create_app(str(made["db"])), base_url=LOCAL) as c:
        saved, queries.PER_PAGE = queries.PER_PAGE, 2
        try:
            seen, url, pages = [], "/?pipeline=other", 0
            while url:
                pages += 1
                html = c.get(url).text
                seen += _run_ids(html)
                found = re.search(r'<a href="([^"]+)" rel="next">', html)
                url = found.group(1).replace("&amp;", "&") if found else ""
                assert not found or "pipeline=other" in url
        finally:
            queries.PER_PAGE = saved
    assert len(seen) == len(set(seen)) == 4 and pages == 2


def test_run_page_draws_graph_groups_critical_path_and_timeline(client, made):
    html = client.get(f"/runs/{made['shapes']}").text
    by_step = {
        step: cls for cls, step in re.findall(r'<g class="node ([^"]*)" data-step="([^"]+)"', html)
    }
    assert "foreach" in by_step["each"] and "st-succeeded" in by_step["each"]
    assert "loop" in by_step["polish"] and "polish.rewrite" in by_step
    assert html.count('class="item st-succeeded"') == 3  # each for_each item drawn
    assert "until" not in html and "repeat (max 2)" in html  # the loop's back edge label
    assert "critical" in by_step["first"] and "critical" in by_step["last"]
    assert 'class="timeline"' in html
    lanes = re.findall(r'<text class="lane"[^>]*>([^<]+)</text>', html)
    assert set(lanes) >= {"a", "b"}
    bars = re.findall(r'<g class="bar st-succeeded" data-unit="([^"]+)"', html)
    assert {"first", "each[0]", "each[2]", "polish.rewrite#2", "last"} <= set(bars)
    assert "each" not in bars  # the for_each's own row spans its items: no bar


def test_every_string_is_escaped_and_no_secret_is_shown(client, made):
    html = client.get(f"/runs/{made['shapes']}").text
    assert "<script>window.pwned" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt; &amp; &lt;b&gt;" in html
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script src="/static/ui.js" defer>']  # ours only, no inline script
    assert "style=" not in html  # the CSP forbids inline styles: none are needed
    for path in ("/", f"/runs/{made['shapes']}", f"/runs/{made['shapes']}/live"):
        assert made["token"] not in client.get(path).text
    assert "secret inputs, not recorded: token" in html


def test_failed_run_shows_its_error(client, made):
    html = client.get(f"/runs/{made['failed']}").text
    assert 'data-step="only" data-status="failed"' in html
    assert "HTTP 400: no" in html


def test_headers_read_only_and_host(client, made):
    for path in ("/", f"/runs/{made['shapes']}", "/static/ui.js", "/static/ui.css"):
        reply = client.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["content-security-policy"] == CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CSP and "unsafe" not in CSP
    assert client.post("/").status_code == 405
    assert client.post(f"/runs/{made['shapes']}").status_code == 405
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400  # rebinding


def test_unknown_run_is_404(client):
    assert client.get("/runs/nope").status_code == 404
    assert client.get("/runs/nope/live").status_code == 404


def test_stream_of_a_finished_run_says_done(client, made):
    with client.stream("GET", f"/runs/{made['shapes']}/stream") as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        body = "".join(reply.iter_text())
    assert body.startswith('event: update\ndata: "succeeded"') and "event: done" in body


def test_shape_from_the_rows_when_the_pipeline_file_is_gone(client, made):
    (made["dir"] / "shapes.yaml").unlink()
    html = client.get(f"/runs/{made['shapes']}").text
    steps = set(re.findall(r'data-step="([^"]+)"', html))
    assert {"first", "each", "polish", "polish.rewrite", "last"} <= steps


def test_no_records_yet_creates_nothing(tmp_path):
    with TestClient(create_app(str(tmp_path / "runs.db")), base_url=LOCAL) as c:
        assert "No runs recorded yet" in c.get("/").text
    assert not (tmp_path / "runs.db").exists()


def test_interrupted_run_reads_interrupted(client, made):
    db = sqlite3.connect(made["db"])
    with db:
        db.execute(
            "UPDATE runs SET status='running', ended=NULL, pid=999999999 WHERE id=?",
            (made["failed"],),
        )
    db.close()
    html = client.get("/", params={"status": "interrupted"}).text
    assert _run_ids(html) == [made["failed"]]
    assert _run_ids(client.get("/", params={"status": "running"}).text) == []


def test_example_pipelines_draw(tmp_path):
    backend, records = MemoryBackend(), Records(tmp_path / "runs.db")
    backend.script(prompt_contains="Review", json={"approved": True, "feedback": "ok"}, times=100)
    for name, inputs in (
        ("research-report", {"topic": "x"}),
        ("parallel-analysis", {"proposal": "y"}),
        ("release-notes", {"changes": "z"}),
    ):
        out = start_run(
            load_plan(f"pipelines/{name}.yaml"), inputs, backend, records, options=RunOptions()
        )
        assert out.status == "succeeded", out.error
    records.close()
    with TestClient(create_app(str(tmp_path / "runs.db")), base_url=LOCAL) as c:
        pages = [c.get(f"/runs/{run_id}").text for run_id in _run_ids(c.get("/").text)]
    assert all(page.count("<svg") == 2 for page in pages)
    notes = pages[0]  # newest first: release-notes, whose sub-pipelines are groups
    svg = ElementTree.fromstring(
        notes[
            notes.index('<svg xmlns="http://www.w3.org/2000/svg" class="dag"') : notes.index(
                "</svg>"
            )
            + 6
        ]
    )
    ns = "{http://www.w3.org/2000/svg}"
    groups = {g.get("data-step"): g for g in svg.iter(f"{ns}g") if "uses" in g.get("class", "")}
    assert set(groups) == {"notes_review", "announcement_review"}
    inside = {g.get("data-step") for g in groups["notes_review"].iter(f"{ns}g")}
    assert {
        "notes_review.inputs",
        "notes_review.review",
        "notes_review.revise",
        "notes_review.revise.rewrite",
    } <= inside
    assert "notes" not in inside and "announcement_review.review" not in inside
    assert groups["notes_review"].get("data-status") == "succeeded"  # its outputs end ran


def test_a_large_run_lists_its_unfinished_units_first(client, made, monkeypatch):
    from orchestrator.ui import app

    monkeypatch.setattr(app, "UNITS_SHOWN", 3)
    html = client.get(f"/runs/{made['shapes']}").text
    assert len(re.findall(r'<tr class="unit ', html)) == 3
    assert re.search(r"\d+ more units \(succeeded or skipped\) not listed", html)
    assert html.count('<g class="bar ') >= 7  # the timeline still draws every unit
    units = [{"status": s} for s in ("succeeded", "failed", "succeeded", "running", "skipped")]
    assert [u["status"] for u in app._units_shown(units)] == ["succeeded", "failed", "running"]


def test_records_that_cannot_be_read_are_a_page_without_the_password():
    pytest.importorskip("psycopg")
    url = "postgresql://orch:hunter2-secret@127.0.0.1:1/records"  # nothing listens on port 1
    with TestClient(create_app(url), base_url=LOCAL) as c:
        reply = c.get("/")
        assert reply.status_code == 503
        assert "cannot be read" in reply.text and "cannot connect" in reply.text
        assert "hunter2-secret" not in reply.text and "orch:***@" in reply.text
        assert reply.headers["content-security-policy"] == CSP


def test_a_database_error_drops_the_connection_and_the_next_request_recovers(client, made):
    from orchestrator.ui import queries

    calls = []
    real = queries.runs_page

    def broken(records, flt, per_page=None):
        calls.append(records)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(records, flt, per_page)

    queries.runs_page = broken
    try:
        assert client.get("/").status_code == 503
        assert client.get("/").status_code == 200
    finally:
        queries.runs_page = real
    assert calls[0] is not calls[1]  # a new connection after the failure


def test_the_host_header_must_name_this_server(made):
    from orchestrator.ui.pages import host_of

    assert [host_of(h) for h in ("[::1]:8290", "127.0.0.1:8290", "LocalHost", "[::1]")] == [
        "::1",
        "127.0.0.1",
        "localhost",
        "::1",
    ]
    with TestClient(create_app(str(made["db"]), host="::1"), base_url=LOCAL) as c:
        for good in ("[::1]:8290", "localhost:8290", "127.0.0.1"):
            assert c.get("/", headers={"host": good}).status_code == 200, good
        for bad in (
            "evil.example",
            "evil.example:8290",
            "127.0.0.1.evil.example",
            "",
            "testserver",
        ):
            reply = c.get("/", headers={"host": bad})
            assert reply.status_code == 400, bad
            assert reply.headers["content-security-policy"] == CSP
    everywhere = create_app(str(made["db"]), host="0.0.0.0")  # bound to every address
    with TestClient(everywhere, base_url=LOCAL) as c:
        assert c.get("/", headers={"host": "build-box.lan:8290"}).status_code == 200
