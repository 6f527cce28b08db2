"""The web view in a real browser: Debian's headless Chromium, driven by Playwright, over
records made by real runs on the embedded Letta (the local model scripted per test).

It checks the list, opens a run, sees the graph and the timeline, watches a running
pipeline's step turn green without a reload, and finds that a `<script>` in a model reply
is shown as text and never runs. Without Chromium (or Playwright) the tests skip, saying
why; with CI=true they fail instead: CI must run them.

With ORCHESTRATE_UI_SCREENSHOTS=DIR the list and one run are saved as DIR/ui-runs.png and
DIR/ui-run.png (README shows the ones in docs/):
    ORCHESTRATE_UI_SCREENSHOTS=docs python3 -m pytest tests/ui/test_browser.py
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, start_run

pytestmark = pytest.mark.integration
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
CHROMIUM = os.environ.get("ORCHESTRATE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
APPROVE = {"approved": True, "feedback": "clear and accurate"}
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """`orchestrate ui`'s app served by uvicorn on a free port, over a fresh records file."""
    import uvicorn

    from orchestrator.ui.app import create_app

    home = tmp_path_factory.mktemp("ui")
    db = home / "runs.db"  # STATE/runs.db of `orchestrate run` with ORCHESTRATE_HOME=home
    Records(db).close()  # exists: the app opens it (as it would the user's)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(str(db)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield db, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.errors = errors
    yield tab
    context.close()


def _run(letta_stack, db, name, inputs, **options):
    records = Records(db)
    try:
        return start_run(
            load_plan(PIPELINES / f"{name}.yaml"),
            inputs,
            LettaBackend(letta_stack.base_url),
            records,
            options=RunOptions(**options),
        )
    finally:
        records.close()


def _shoot(tab, name: str) -> None:
    where = os.environ.get("ORCHESTRATE_UI_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(Path(where) / name), full_page=True)


def test_list_run_graph_timeline_and_a_script_shown_as_text(letta_stack, model_script, site, page):
    db, url = site
    model_script(
        [
            {"prompt_contains": "Research ", "reply": f"Owls fly at night. {EVIL}"},
            {"prompt_contains": "Review this revised report", "json": APPROVE},
            {
                "prompt_contains": "Review this report",
                "json": {"approved": False, "feedback": "add numbers"},
            },
        ]
    )
    fanout = _run(letta_stack, db, "parallel-analysis", {"proposal": "A managed vector DB"})
    assert fanout.status == "succeeded", fanout.error
    out = _run(letta_stack, db, "research-report", {"topic": "owls"})
    assert out.status == "succeeded", out.error

    page.goto(url + "/")
    row = page.locator(f'tr.run[data-run="{out.run_id}"]')
    assert row.locator("td").nth(1).inner_text() == "research-report"
    assert row.locator(".badge").inner_text() == "succeeded"
    assert int(row.locator("td").nth(5).inner_text().replace(",", "")) > 0  # tokens
    page.select_option("#f-status", "failed")
    page.click("form.filters button")
    assert page.locator(f'tr.run[data-run="{out.run_id}"]').count() == 0
    page.goto(url + "/")

    row = page.locator(f'tr.run[data-run="{out.run_id}"]')
    row.locator("a").click()
    page.wait_for_url(f"**/runs/{out.run_id}")
    graph = page.locator("svg.dag")
    assert graph.is_visible()
    for step in ("research", "draft", "review"):
        node = graph.locator(f'g.node[data-step="{step}"]')
        assert node.get_attribute("data-status") == "succeeded"
        assert "critical" in (node.get_attribute("class") or "")
    revise = graph.locator('g.node.loop[data-step="revise"]')  # a group: its body inside
    assert revise.get_attribute("data-status") == "succeeded"
    assert "(loop, 1 iteration)" in revise.locator("text.label").first.text_content()
    for step in ("revise.rewrite", "revise.recheck"):
        assert (
            revise.locator(f'g.node[data-step="{step}"]').get_attribute("data-status")
            == "succeeded"
        )
    assert revise.locator("path.edge.back").count() == 1  # the next-iteration edge
    timeline = page.locator("svg.timeline")
    assert timeline.is_visible()
    assert timeline.locator("g.bar").count() >= 3
    assert timeline.locator('g.bar[data-unit="research"]').is_visible()

    details = page.locator('details[id="d-research"]')
    details.locator("summary").click()
    output = details.locator("pre.output")
    assert EVIL in output.inner_text()  # shown as text, exactly as the model wrote it
    assert page.evaluate("window.__pwned") is None  # and it did not run
    assert page.locator("pre.output script, pre.output img").count() == 0
    agent_id = page.locator('tr.unit[data-unit="research"] td').nth(3).inner_text()
    assert agent_id.startswith("agent-")  # the Letta agent that handled it
    assert page.errors == []
    _shoot(page, "ui-run.png")

    page.goto(f"{url}/runs/{fanout.run_id}")  # for_each as a group, a lane per replica
    summaries = page.locator('svg.dag g.node.foreach[data-step="summaries"]')
    assert summaries.locator("rect.item.st-succeeded").count() == 3
    lanes = page.locator("svg.timeline text.lane").all_text_contents()
    assert "analyst" in lanes and "analyst #2" in lanes, lanes
    assert page.locator('svg.timeline g.bar[data-unit="summaries[2]"]').count() == 1
    _shoot(page, "ui-run-fanout.png")


def test_running_step_turns_green_without_a_reload(letta_stack, model_script, site, page):
    db, url = site
    listing = page.context.new_page()  # the runs list, open before the run starts
    listing.goto(url + "/")
    listing.evaluate("window.__sameDocument = 'yes'")
    # the writer's reply (draft) takes 5 s: long enough to watch it running
    model_script(
        [
            {"system_contains": "I am a clear technical writer", "delay": 5},
            {"prompt_contains": "Review this report", "json": APPROVE},
        ]
    )
    before = _run_ids(db)
    # The CLI in its own process, as a user runs it (a run recorded by this very process
    # would read `interrupted`: run.liveness never takes its own pid for a live run).
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "run",
            str(PIPELINES / "research-report.yaml"),
            "-i",
            "topic=herons",
            "--base-url",
            letta_stack.base_url,
        ],
        env={**os.environ, "ORCHESTRATE_HOME": str(db.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        run_id = _watch(page, url, db, before, runner)
        row = listing.locator(f'tr.run[data-run="{run_id}"]')  # appeared without a reload
        row.locator('.badge:text("succeeded")').wait_for(timeout=30_000)
        assert listing.evaluate("window.__sameDocument") == "yes"
        printed = runner.communicate(timeout=120)[0]  # it cleans up after the page says so
    finally:
        if runner.poll() is None:  # the test failed: do not leave the CLI running
            runner.kill()
            runner.communicate(timeout=30)
    assert runner.returncode == 0, (runner.returncode, printed)
    assert page.errors == []


def _run_ids(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM runs")}


def _watch(page, url, db, before, runner) -> str:
    run_id = None
    deadline = time.monotonic() + 60
    while run_id is None and time.monotonic() < deadline:
        ids = _run_ids(db) - before
        run_id = next(iter(ids), None)
        time.sleep(0.1)
    assert run_id, "the run did not start"

    page.goto(f"{url}/runs/{run_id}")
    page.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads
    draft = 'svg.dag g.node[data-step="draft"]'
    page.wait_for_selector(f'{draft}[data-status="running"]', timeout=60_000)
    assert page.locator("#run-status").inner_text() == "running"
    page.wait_for_selector(f'{draft}[data-status="succeeded"]', timeout=60_000)
    page.wait_for_selector('#run-status:text("succeeded")', timeout=60_000)
    assert page.evaluate("window.__sameDocument") == "yes"  # updated in place
    return run_id


def test_a_failed_run_is_listed_and_filtered_with_its_error(letta_stack, model_script, site, page):
    db, url = site
    model_script(
        [
            {
                "prompt_contains": "Research ",
                "error": {"status": 400, "message": "the model refused", "times": 100},
            }
        ]
    )
    out = _run(letta_stack, db, "research-report", {"topic": "bats"})
    assert out.status == "failed"

    page.goto(url + "/")
    page.select_option("#f-status", "failed")
    page.click("form.filters button")
    page.wait_for_url("**/?*status=failed*")
    assert page.locator("tr.run").count() == 1
    assert page.locator("tr.run").get_attribute("data-run") == out.run_id
    page.locator("tr.run a").click()
    page.wait_for_url(f"**/runs/{out.run_id}")
    research = page.locator('svg.dag g.node[data-step="research"]')
    assert research.get_attribute("data-status") == "failed"
    assert (
        page.locator('svg.dag g.node[data-step="draft"]').get_attribute("data-status") == "pending"
    )  # never reached
    assert page.locator("#run-status").inner_text() == "failed"
    assert "refused" in page.locator("section.summary pre.error").inner_text()
    assert page.errors == []
    page.goto(url + "/")
    _shoot(page, "ui-runs.png")  # every run of this module, newest first
