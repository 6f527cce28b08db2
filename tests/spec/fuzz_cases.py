"""Seeded fuzz cases for the loaders: pipelines and resource directories, made from the real
examples by mutation plus the hostile shapes that once crashed, hung or exhausted memory
(deep nesting, self-containing aliases, alias bombs, bad tags, long integers, binary values,
deep and unbalanced templates, non-UTF-8 bytes, paths out of the directory, devices, FIFOs,
links). `case(i)` is a pure function of `i`, so a failure reproduces from its number.

`check(case, root)` writes the case under `root`, runs what `orchestrate validate` and
`orchestrate plan` run (without a server), and returns what went wrong: an exception other
than a located SpecError (a traceback), a secret outside the resource directory that ended
up in the loaded resources, or a folder file outside it. Used by tests/spec/test_fuzz.py (a
fast tier) and bench/fuzz_validate.py (the full 10,000, with per-case time limits and RSS).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.compile.validate import check_files
from orchestrator.errors import SpecError
from orchestrator.provision.sources import load_source

REPO = Path(__file__).resolve().parents[2]
SECRET = "OUTSIDE-SECRET-d41d8cd9"
PIPELINES = sorted(
    [
        *(REPO / "pipelines").glob("*.yaml"),
        *(REPO / "tests/data/valid").glob("*.yaml"),
        *(REPO / "tests/data/invalid").glob("*.yaml"),
    ]
)
RESOURCE_DIRS = [REPO / "pipelines" / "agents", REPO / "tests" / "data" / "resources" / "good"]

_SCALARS = [
    "!!int zz",
    "!!bool maybe",
    "!!timestamp x",
    "!!float nope",
    "!!binary aGVsbG8=",
    "!!null x",
    "!!python/object:os.system ls",
    "9" * 5000,
    "-" + "7" * 4400,
    ".nan",
    "2024-13-45",
    "!!str",
    "~",
    "*undefined",
    "&a",
    "'unclosed",
    '"\\xZZ"',
    "[",
    "{{ )( }}",
    '"{{ )( }}"',
    '"{{ x }"',
    '"{% for %}"',
    '"{{ ${env:X} }}"',
]
_PATHS = [
    "../../../../../../etc/passwd",
    "/etc/hostname",
    "/etc/os-release",
    "/dev/zero",
    "/dev/urandom",
    "/proc/self/environ",
    "/proc/self/mem",
    "../outside/secret.txt",
    "link-out.txt",
    "fifo",
    "/",
    "..",
    ".",
    "",
    "*",
    "**/*",
    "/x-does-not-exist.yaml",
    "docs/../../outside/secret.txt",
    "nul\x00byte",
    "~/x",
]
_PATH_KEYS = ("value_file", "system_file", "source_file")


@dataclass
class Case:
    number: int
    kind: str  # "pipeline" | "resources"
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content
    links: dict[str, str] = field(default_factory=dict)  # relative path -> target
    fifos: list[str] = field(default_factory=list)
    target: str = "case.yaml"  # what is validated: a file, or "res" for the directory
    note: str = ""


def case(number: int) -> Case:
    rng = random.Random(number)
    if rng.random() < 0.6:
        text = rng.choice(PIPELINES).read_bytes()
        note, text = _mutations(rng, text, rng.randrange(1, 4))
        return Case(number, "pipeline", {"case.yaml": text}, note=note)
    return _resources(number, rng)


def _resources(number: int, rng: random.Random) -> Case:
    source = rng.choice(RESOURCE_DIRS)
    files = {
        f"res/{p.relative_to(source)}": p.read_bytes()
        for p in sorted(source.rglob("*"))
        if p.is_file()
    }
    files["outside/secret.txt"] = SECRET.encode()
    result = Case(
        number,
        "resources",
        files,
        target="res",
        links={"res/link-out.txt": "../outside/secret.txt", "res/link-dir": "../outside"},
        fifos=["res/fifo"],
    )
    notes = []
    yamls = sorted(
        name for name in files if name.endswith((".yaml", ".yml")) and name.startswith("res/")
    )
    for _ in range(rng.randrange(1, 4)):
        name = rng.choice(yamls)
        op = rng.randrange(4)
        if op == 0:  # point a file key at something hostile
            files[name] = _repoint(rng, files[name])
            notes.append(f"repoint {name}")
        elif op == 1:
            note, files[name] = _mutations(rng, files[name], 1)
            notes.append(f"{note} in {name}")
        elif op == 2:
            files[f"res/extra{rng.randrange(3)}.yaml"] = rng.choice(
                [b"kind: Agent\nname: \xff\xfe\n", b"\x00\x00", _hostile(rng).encode("utf-8")]
            )
            notes.append("extra file")
        else:
            files[name] = files[name].replace(
                b"files: [", b"files: [" + rng.choice(_PATHS).encode() + b", ", 1
            )
            notes.append(f"folder pattern in {name}")
    result.note = "; ".join(notes)
    if rng.random() < 0.3:  # a single file of the directory, as `validate FILE` and `plan FILE`
        result.target = rng.choice(yamls)
    return result


def _repoint(rng: random.Random, text: bytes) -> bytes:
    lines = text.split(b"\n")
    path = rng.choice(_PATHS).replace("\x00", "\\0")
    for i, line in enumerate(lines):
        for key in _PATH_KEYS:
            if line.strip().startswith(key.encode() + b":"):
                indent = line[: len(line) - len(line.lstrip())]
                lines[i] = indent + f'{key}: "{path}"'.encode()
                return b"\n".join(lines)
    key = rng.choice(_PATH_KEYS)
    return text + f'\n{key}: "{path}"\n'.encode()


def _mutations(rng: random.Random, text: bytes, count: int) -> tuple[str, bytes]:
    notes = []
    for _ in range(count):
        op = rng.randrange(8)
        notes.append(str(op))
        lines = text.split(b"\n") or [b""]
        i = rng.randrange(len(lines))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 2:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 3:  # a hostile value where a value was
            head, sep, _ = lines[i].partition(b": ")
            lines[i] = head + b": " + rng.choice(_SCALARS).encode() if sep else lines[i]
        elif op == 4:  # a hostile shape under its own key, at this line's indentation
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines.insert(i, indent + _hostile(rng).encode().replace(b"\n", b"\n" + indent))
        elif op == 5:  # a hostile template in place of one
            lines[i] = (
                lines[i].replace(b"{{", _template(rng).encode()[:-2] + b" {{", 1)
                if b"{{" in lines[i]
                else lines[i] + b" " + _template(rng).encode()
            )
        elif op == 6:  # raw bytes: invalid UTF-8, NUL, BOM, tab, CR
            pos = rng.randrange(len(lines[i]) + 1)
            lines[i] = (
                lines[i][:pos]
                + rng.choice(
                    [b"\xff", b"\x00", b"\xef\xbb\xbf", b"\t", b"\r", b"\xc3", b"\x1b[31m"]
                )
                + lines[i][pos:]
            )
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        text = b"\n".join(lines)
    return "ops " + ",".join(notes), text


def _hostile(rng: random.Random) -> str:
    depth = rng.choice([10, 63, 64, 65, 100, 500, 1_000, 5_000, 50_000])
    width = rng.randrange(2, 12)
    pick = rng.randrange(8)
    if pick == 0:
        return "x-deep: " + "[" * depth + "]" * depth
    if pick == 1:
        return "x-deep: " + "{a: " * min(depth, 5_000) + "1" + "}" * min(depth, 5_000)
    if pick == 2:
        return "x-loop: &a [1, *a]" if rng.random() < 0.5 else "x-loop: &m {k: *m}"
    if pick == 3:  # billion laughs: width ** levels values once expanded
        levels = rng.randrange(3, 10)
        lines = ["x-lol:", "  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
        lines += [
            f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, levels)
        ]
        return "\n".join(lines)
    if pick == 4:
        return "x-merge: {<<: [*undefined]}" if rng.random() < 0.5 else "x-key: {? [a, b] : c}"
    if pick == 5:
        return "x-values: [" + ", ".join(rng.sample(_SCALARS[:12], 4)) + "]"
    if pick == 6:
        return "x-long: '" + "y" * rng.choice([1_000, 200_000]) + "'"
    return (
        "x-block:\n"
        + "".join(" " * (n + 1) + f"k{n}:\n" for n in range(min(depth, 300)))
        + " " * 302
        + "v"
    )


def _template(rng: random.Random) -> str:
    n = rng.choice([5, 31, 32, 33, 99, 100, 101, 500, 3_000])
    shapes = [
        "(" * n + "x" + ")" * n,
        " + ".join(["x"] * n),
        "not " * n + "x",
        "- " * n + "x",
        "x" + " | trim" * n,
        "x" + ".a" * n,
        "[" * n + "]" * n,
        ")(",
        "a)(b",
        "x[)]",
        "'" + "z" * 200_000 + "'",
        "lipsum(n=10**7)",
        "range(99999) | list | length",
    ]
    return "{{ " + rng.choice(shapes) + " }}"


def materialize(item: Case, root: Path) -> Path:
    for name, content in item.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    for name, target in item.links.items():
        (root / name).symlink_to(target)
    for name in item.fifos:
        os.mkfifo(root / name)
    return root / item.target


def check(item: Case, root: Path) -> list[str]:
    """What went wrong with this case (empty: it was handled as it must be)."""
    target = materialize(item, root)
    wrong = []
    paths = (
        [str(target)]
        if target.is_file()
        else sorted(
            str(p) for p in target.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
        )
    )
    for file, issues, crashed in check_files(paths or [str(target)]):
        if crashed:
            wrong.append(f"validate {file}: {issues[0].message}")
        wrong += [f"secret in an issue of {file}" for i in issues if SECRET in i.format()]
    return wrong + _provision(target, root)


def _provision(target: Path, root: Path) -> list[str]:
    try:
        loaded = load_source(target)
    except SpecError as exc:
        return ["secret in a plan error" for i in exc.issues if SECRET in i.format()][:1]
    except Exception as exc:  # noqa: BLE001 - this is what the fuzz looks for
        return [f"plan {target}: unexpected {type(exc).__name__}: {exc}"]
    texts = [a.system or "" for a in loaded.agents.values()]
    texts += [b.value for a in loaded.agents.values() for b in a.memory_blocks]
    texts += [b.value for b in loaded.shared_blocks.values()]
    texts += [t.source_code for t in loaded.tools.values()]
    inside = (root / "res").resolve()
    outside = [
        name
        for f in loaded.folders.values()
        for name, _ in f.files
        if inside not in (Path(f.root) / name).resolve().parents
    ]
    return (
        ["a file outside the resource directory was read"]
        if any(SECRET in t for t in texts)
        else []
    ) + [f"folder file outside the directory: {name}" for name in outside]
