"""load_resources: a directory of Agent / Block / Tool / Folder files -> ResourceSet."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec import load_resources

RESOURCES = Path(__file__).resolve().parent.parent / "data" / "resources"
GOOD = RESOURCES / "good"


def problems(root: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_resources(root)
    return [issue.format().replace(f"{RESOURCES}/", "") for issue in info.value.issues]


def test_good_directory_loads_every_kind():
    resources = load_resources(GOOD)
    assert resources.root == str(GOOD)
    assert sorted(resources.agents) == ["editor", "researcher"]
    assert list(resources.shared_blocks) == ["team_notes"]
    assert list(resources.tools) == ["search_web"]
    assert list(resources.folders) == ["papers"]


def test_agent_files_are_read_relative_to_the_yaml():
    researcher = load_resources(GOOD).agents["researcher"]
    assert researcher.system == "You are a researcher.\n"
    persona, style = researcher.memory_blocks
    assert (persona.label, persona.value, persona.agent_owned) == (
        "persona",
        "Thorough and careful.\n",
        True,
    )
    assert (style.value, style.limit) == ("terse", 500)
    assert researcher.tools == ("search_web", "web_search")  # web_search: a Letta built-in
    assert researcher.tool_env == {"SEARCH_KEY": "${env:SEARCH_KEY}"}
    assert researcher.mark.file.endswith("agents.yaml") and researcher.mark.line == 1
    assert load_resources(GOOD).agents["editor"].mark.line == 16  # second document


def test_block_tool_and_folder():
    resources = load_resources(GOOD)
    block = resources.shared_blocks["team_notes"]
    assert (block.value, block.limit, block.description) == (
        "Nothing yet.\n",
        4000,
        "Notes shared by the team",
    )
    tool = resources.tools["search_web"]
    assert tool.source_code.startswith("def search_web(query: str) -> str:")
    assert tool.source_file == str(GOOD / "tools" / "search_web.py")
    assert tool.pip_requirements == ("requests",)
    folder = resources.folders["papers"]
    digest = hashlib.sha256(b"# A\n").hexdigest()
    assert folder.files[0] == ("docs/a.md", digest) and len(folder.files) == 2
    assert folder.root == str(GOOD)


def test_one_file_can_be_loaded_alone():
    assert list(load_resources(GOOD / "tools" / "search.yaml").tools) == ["search_web"]


def test_reference_and_file_problems_are_all_reported():
    assert problems(RESOURCES / "bad") == [
        "bad/agents.yaml:4:17: Agent(writer).shared_blocks[0]: unknown shared block 'team_note' (did you mean 'team_notes'?)",
        "bad/agents.yaml:5:11: Agent(writer).folders[0]: unknown folder 'paper' (did you mean 'papers'?)",
        "bad/agents.yaml:6:14: Agent(writer).system_file: cannot read 'missing.md': No such file or directory (paths are relative to the YAML file)",
        "bad/agents.yaml:10:7: Agent(writer).name: duplicate Agent 'writer' (it is already defined at bad/agents.yaml:3)",
        "bad/more.yaml:3:7: Block(team_notes).name: duplicate Block 'team_notes' (it is already defined at bad/agents.yaml:18)",
        "bad/more.yaml:4:8: Block(team_notes).value: invalid environment reference '${env:BAD NAME}' (write ${env:NAME}, NAME being letters, digits and _, not starting with a digit)",
        "bad/more.yaml:9:14: Tool(fetch).source_file: 'fetch.py' defines no function 'fetch' (a tool's name is the name of its Python function)",
        "bad/more.yaml:14:9: Folder(papers).files[0]: 'nothing/*.pdf' matches no files (patterns are relative to the YAML file)",
    ]


def test_schema_problems_stop_before_references():
    assert problems(RESOURCES / "schema-errors") == [
        "schema-errors/mixed.yaml:2:7: Agnt(x).kind: 'Agnt' is not one of: Agent, Block, Tool, Folder, McpServer, Privacy (did you mean 'Agent'?)",
        "schema-errors/mixed.yaml:8:1: Block(team_notes): unknown key 'vaule' (did you mean 'value'?)",
        "schema-errors/mixed.yaml:10:1: Tool(fetch): missing required key 'source_file'",
    ]


def test_missing_directory():
    assert problems(RESOURCES / "nope") == ["nope: no such file or directory"]


def test_pipelines_next_to_resources_are_skipped():
    assert (GOOD / "pipeline-next-to-agents.yaml").exists()
    assert sorted(load_resources(GOOD).agents) == ["editor", "researcher"]
