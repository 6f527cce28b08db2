"""`orchestrate init` (issue 14): the starters are listed, written into an empty directory
only (unless --force), validate as written, and ship as package data."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.spec.pipeline import load_pipeline
from orchestrator.spec.resources import load_resources
from orchestrator.starters import STARTERS, starter_files


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list_names_every_starter():
    listed = run("init", "--list")
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == [
        "research",
        "support",
        "code-assistant",
    ]


@pytest.mark.parametrize("name", list(STARTERS))
def test_each_starter_is_written_and_validates(name, tmp_path):
    target = tmp_path / name
    done = run("init", name, str(target))
    assert done.exit_code == 0, done.output
    assert (target / "README.md").is_file() and (target / "pipeline.yaml").is_file()
    assert run("validate", str(target / "pipeline.yaml"), str(target / "agents")).exit_code == 0
    pipeline = load_pipeline(target / "pipeline.yaml")
    resources = load_resources(target)
    refs = {a.ref for a in pipeline.agents.values()}
    assert refs and all(r and r.startswith("agents/") for r in refs)
    assert {a.name for a in pipeline.agents.values()} <= set(resources.agents)


def test_the_default_starter_is_research(tmp_path):
    assert run("init", str(tmp_path / "p")).exit_code == 0
    assert "research-report" in (tmp_path / "p" / "pipeline.yaml").read_text()


def test_a_non_empty_directory_is_refused_unless_force(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    refused = run("init", "support", str(tmp_path))
    assert refused.exit_code == 1 and "is not empty" in refused.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    forced = run("init", "support", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "agents" / "tools" / "create_ticket.py").is_file()


def test_an_unknown_starter_is_a_usage_error(tmp_path):
    wrong = run("init", "chatbot", str(tmp_path / "x"))
    assert wrong.exit_code == 2 and "'chatbot' is not a starter" in wrong.output
    assert not (tmp_path / "x").exists()


def test_starters_ship_as_package_data():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert all(f'"{p}"' in section for p in ("starters/*/*", "starters/*/*/*", "starters/*/*/*/*"))
    depth = max(rel.count("/") for name in STARTERS for rel, _ in starter_files(name))
    assert depth <= 2  # what those patterns cover (starters/NAME/ + 3 levels)


def test_init_imports_nothing_heavy(tmp_path):
    import subprocess
    import sys

    probe = (
        "import sys\nfrom orchestrator.cli import main\ntry:\n"
        f"    main(['init', 'support', {str(tmp_path / 'p')!r}], prog_name='orchestrate')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('letta_client', 'networkx', 'jsonschema', 'rich') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    assert (tmp_path / "p" / "pipeline.yaml").is_file()
