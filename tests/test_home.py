"""Which state dir commands use (orchestrator.home): ORCHESTRATE_HOME exactly as before, an
existing project-local ./.orchestrate (here or above), else one per-user directory, the same
for every layer (records, prices, the Temporal key, the embedded stack)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator import home
from orchestrator.cli import main
from orchestrator.cli.common import records_location, state_home
from orchestrator.run import cost
from orchestrator.run.temporal.client import TemporalTarget
from orchestrator.server.paths import StackPaths


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A user with no state anywhere, working in ~/work/repo/sub."""
    monkeypatch.delenv("ORCHESTRATE_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.delenv("ORCHESTRATE_PRICES", raising=False)
    monkeypatch.setattr(home.sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "u"))
    sub = tmp_path / "u" / "work" / "repo" / "sub"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    return tmp_path / "u"


def _every_layer() -> set[Path]:
    """The state dir as each layer finds it."""
    found = {
        state_home(),
        StackPaths.resolve().home,
        cost.user_file().parent,
        Path(records_location()).parent,
        TemporalTarget().home,
    }
    return found


def test_default_is_per_user_from_any_directory(user, monkeypatch):
    expected = user / ".local" / "state" / "orchestrate"
    assert _every_layer() == {expected}
    monkeypatch.chdir(user)
    assert _every_layer() == {expected}
    assert not expected.exists()  # resolving creates nothing
    monkeypatch.setenv("XDG_STATE_HOME", str(user / "xdg"))
    assert _every_layer() == {user / "xdg" / "orchestrate"}
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # the XDG spec: ignored
    assert _every_layer() == {expected}


def test_orchestrate_home_wins_exactly_as_before(user, tmp_path, monkeypatch):
    (user / "work" / "repo" / ".orchestrate" / "runs.db").parent.mkdir(parents=True)
    (user / "work" / "repo" / ".orchestrate" / "runs.db").touch()
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "ci"))
    assert _every_layer() == {tmp_path / "ci"}
    monkeypatch.setenv("ORCHESTRATE_HOME", "rel/state")  # relative to the current directory
    assert _every_layer() == {Path.cwd() / "rel" / "state"}
    assert home.resolve_home().source == "ORCHESTRATE_HOME"
    monkeypatch.setenv("ORCHESTRATE_HOME", "")  # empty: as unset
    assert home.resolve_home().source == "project"


def test_an_existing_project_dir_keeps_working_here_and_below(user, monkeypatch):
    project = user / "work" / "repo" / ".orchestrate"
    project.mkdir()
    assert home.resolve_home().source == "user"  # an empty .orchestrate is not state
    (project / "server.json").write_text("{}")
    assert _every_layer() == {project}  # found from repo/sub
    monkeypatch.chdir(user / "work" / "repo")
    assert _every_layer() == {project}
    assert "project-local" in home.resolve_home().describe()
    assert str(user / ".local" / "state" / "orchestrate") in home.resolve_home().describe()
    monkeypatch.chdir(user / "work")  # outside that checkout: the per-user one
    assert home.resolve_home().source == "user"


def test_runs_list_from_another_directory_sees_the_same_records(user, monkeypatch):
    """The issue's second checkout: `runs list` there showed other runs (or none)."""
    per_user = user / ".local" / "state" / "orchestrate"
    per_user.mkdir(parents=True)
    from orchestrator.run.records import Records

    Records(str(per_user / "runs.db")).close()
    with sqlite3.connect(per_user / "runs.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "runs" in tables
    other = user / "elsewhere"
    other.mkdir()
    for where in (user / "work" / "repo" / "sub", other):
        monkeypatch.chdir(where)
        result = CliRunner().invoke(main, ["runs", "list", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == []
    assert not (other / ".orchestrate").exists()


def test_server_status_names_the_state_dir_and_why(user):
    result = CliRunner().invoke(main, ["server", "status", "--json"])
    data = json.loads(result.output)
    assert data["home"] == str(user / ".local" / "state" / "orchestrate")
    assert data["home_source"] == "user"
    result = CliRunner().invoke(main, ["server", "status"])
    assert "(per-user default; ORCHESTRATE_HOME overrides it)" in result.output
    assert not (user / ".local" / "state" / "orchestrate").exists()


def test_no_server_names_the_state_dir_looked_in(user, monkeypatch):
    monkeypatch.delenv("LETTA_BASE_URL", raising=False)
    result = CliRunner().invoke(main, ["runs", "gc", "--dry-run"])
    assert result.exit_code == 1, result.output
    assert (
        "no embedded stack runs for the state dir "
        + str(user / ".local" / "state" / "orchestrate")
        + " (per-user default"
        in result.output
    )
