"""The files resources point at: a resource directory is a trust boundary (nothing outside
it is read unless allowed, after resolving `..` and symlinks), only regular files are read,
each up to a size limit, and every refusal is a located issue, never a crash or a hang."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec import load_resources, resource_build, resources
from orchestrator.spec.resources import load_agent_file

HEAD = "apiVersion: orchestrate/v1\n"


def agent(name: str = "writer", **fields: str) -> str:
    body = "".join(f"{key}: {value}\n" for key, value in fields.items())
    return f"{HEAD}kind: Agent\nname: {name}\n{body}"


def folder(*patterns: str, name: str = "docs") -> str:
    listed = ", ".join(f'"{p}"' for p in patterns)
    return f"{HEAD}kind: Folder\nname: {name}\nfiles: [{listed}]\n"


def problems(root: Path, allowed: tuple = ()) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_resources(root, allowed)
    return [f"{Path(i.file).name}:{i.line}: {i.path}: {i.message}" for i in info.value.issues]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/res (the resource directory) and tmp/outside/secret.txt next to it."""
    (tmp_path / "res").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("not yours\n")
    return tmp_path


def test_dotdot_paths_out_of_the_directory_are_refused(tree):
    res = tree / "res"
    (res / "a.yaml").write_text(
        agent(
            system_file="../outside/secret.txt",
            memory_blocks="[{label: p, value_file: ../outside/secret.txt}]",
            folders="[docs]",
        )
    )
    (res / "f.yaml").write_text(folder("../outside/secret.txt", "../../../../../../etc/passwd"))
    assert problems(res) == [
        f"a.yaml:4: Agent(writer).system_file: '../outside/secret.txt' is outside the resource directory {res}",
        f"a.yaml:5: Agent(writer).memory_blocks[0].value_file: '../outside/secret.txt' is outside the resource directory {res}",
        f"f.yaml:4: Folder(docs).files[0]: '../outside/secret.txt' is outside the resource directory {res}",
        f"f.yaml:4: Folder(docs).files[1]: '../../../../../../etc/passwd' is outside the resource directory {res}",
    ]


def test_absolute_patterns_are_located_not_a_crash(tree):
    res = tree / "res"
    (res / "f.yaml").write_text(folder("/etc/hostname", str(tree / "outside" / "*.txt")))
    found = problems(res)
    assert len(found) == 2 and all("is outside the resource directory" in p for p in found)


def test_a_symlink_inside_that_leads_outside_is_refused(tree):
    res = tree / "res"
    (res / "link.txt").symlink_to(tree / "outside" / "secret.txt")
    (res / "a.yaml").write_text(agent(system_file="link.txt"))
    (res / "f.yaml").write_text(folder("*.txt"))
    secret = (tree / "outside" / "secret.txt").resolve()
    assert problems(res) == [
        f"a.yaml:4: Agent(writer).system_file: 'link.txt' leads to {secret}, outside the resource directory {res}",
        f"f.yaml:4: Folder(docs).files[0]: 'link.txt' leads to {secret}, outside the resource directory {res}",
    ]


def test_allowed_directories_may_be_read(tree):
    res = tree / "res"
    (res / "a.yaml").write_text(agent(system_file="../outside/secret.txt", folders="[docs]"))
    (res / "f.yaml").write_text(folder(str(tree / "outside" / "*.txt")))
    loaded = load_resources(res, allowed=(tree / "outside",))
    assert loaded.agents["writer"].system == "not yours\n"
    assert [name for name, _ in loaded.folders["docs"].files] == [
        str((tree / "outside" / "secret.txt").resolve())
    ]


@pytest.mark.parametrize("target", ["/dev/zero", "/proc/self/environ", "fifo"])
def test_only_regular_files_are_read_even_when_allowed(tree, target):
    res = tree / "res"
    if target == "fifo":
        os.mkfifo(res / "fifo")  # opening it for reading would block without O_NONBLOCK
    (res / "a.yaml").write_text(agent(memory_blocks=f"[{{label: p, value_file: {target}}}]"))
    started = time.perf_counter()
    found = problems(res, allowed=("/dev", "/proc"))
    assert time.perf_counter() - started < 5
    assert found == [
        f"a.yaml:4: Agent(writer).memory_blocks[0].value_file: '{target}' is not a regular file"
    ]


def test_files_past_the_size_limit_are_refused(tree, monkeypatch):
    res = tree / "res"
    monkeypatch.setattr(resource_build, "MAX_TEXT_FILE_BYTES", 10)
    monkeypatch.setattr(resource_build, "MAX_UPLOAD_FILE_BYTES", 10)
    (res / "big.md").write_text("x" * 11)
    (res / "a.yaml").write_text(agent(system_file="big.md"))
    (res / "f.yaml").write_text(folder("big.md"))
    assert problems(res) == [
        "a.yaml:4: Agent(writer).system_file: 'big.md' is too large: 11 bytes (the limit is 10 bytes)",
        "f.yaml:4: Folder(docs).files[0]: 'big.md' is too large: 11 bytes (the limit is 10 bytes)",
    ]


def test_a_glob_matching_too_many_files_is_refused(tree, monkeypatch):
    monkeypatch.setattr("orchestrator.spec.files.MAX_FOLDER_FILES", 3)
    res = tree / "res"
    for i in range(5):
        (res / f"{i}.md").write_text("x")
    (res / "f.yaml").write_text(folder("*.md"))
    assert problems(res) == ["f.yaml:4: Folder(docs).files[0]: '*.md' matches more than 3 files"]


def test_a_non_utf8_yaml_file_in_the_directory_is_located(tree):
    res = tree / "res"
    (res / "bad.yaml").write_bytes(b"kind: Agent\nname: \xff\n")
    (res / "a.yaml").write_text(agent())
    assert problems(res) == ["bad.yaml:0: : not UTF-8 text (byte 18)"]


def test_a_huge_directory_is_refused_after_a_bounded_walk(tree, monkeypatch):
    monkeypatch.setattr("orchestrator.spec.files.MAX_DIRECTORY_ENTRIES", 20)
    res = tree / "res"
    for i in range(30):
        (res / f"{i}.txt").write_text("x")
    assert problems(res) == ["res:0: : more than 20 entries under " + str(res)]


def test_a_schema_error_in_one_file_hides_nothing_in_the_others(tree):
    res = tree / "res"
    (res / "a.yaml").write_text(agent(shared_blocks="[notes, nope]", folders="[papers]"))
    (res / "b.yaml").write_text(f"{HEAD}kind: Block\nname: notes\nvaule: x\n")
    assert problems(res) == [
        "a.yaml:4: Agent(writer).shared_blocks[1]: unknown shared block 'nope'",
        "a.yaml:5: Agent(writer).folders[0]: unknown folder 'papers'",
        "b.yaml:4: Block(notes): unknown key 'vaule'",
    ]  # 'notes' is declared, if badly: it is not reported unknown


def test_an_unreadable_kind_leaves_references_unjudged(tree):
    res = tree / "res"
    (res / "a.yaml").write_text(agent(shared_blocks="[notes]"))
    (res / "b.yaml").write_text(f"{HEAD}kind: Blok\nname: notes\n")
    assert [p.split(": ", 2)[1] for p in problems(res)] == ["Blok(notes).kind"]


def test_an_agent_file_loads_only_what_its_agents_use(tree, monkeypatch):
    res = tree / "res"
    (res / "a.yaml").write_text(agent(shared_blocks="[notes]", folders="[docs]"))
    (res / "blocks.yaml").write_text(f"{HEAD}kind: Block\nname: notes\nvalue: hi\n")
    (res / "docs.md").write_text("# docs\n")
    (res / "f.yaml").write_text(folder("docs.md"))
    (res / "other.yaml").write_text(folder("nothing/*", name="unrelated"))  # broken, unused
    (res / "broken.yaml").write_text("kind: [\n")
    read: list[str] = []
    real = resources.read_text
    monkeypatch.setattr(resources, "read_text", lambda p, *a: read.append(p.name) or real(p, *a))
    loaded = load_agent_file(res / "a.yaml")
    assert set(loaded.agents) == {"writer"} and set(loaded.shared_blocks) == {"notes"}
    assert set(loaded.folders) == {"docs"}
    assert "unrelated" not in loaded.folders
    assert sorted(read) == ["a.yaml", "blocks.yaml", "broken.yaml", "f.yaml", "other.yaml"]


def test_a_fifo_as_the_source_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    assert problems(tmp_path / "pipe.yaml") == ["pipe.yaml:0: : not a regular file or a directory"]
