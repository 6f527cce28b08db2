"""Bad input gives located issues, never a traceback: mutate real pipelines line by line
(seeded, so failures reproduce) and require either a plan or a SpecError. And a step the
schema rejects must not stop (nor fake) the checks of the rest: break one step, plant a
compile error in another, and require exactly the same report apart from the schema's."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
import yaml

from orchestrator.compile import load_plan_text
from orchestrator.errors import SpecError
from orchestrator.spec import schema
from orchestrator.spec.yaml_marks import load_documents

REPO = Path(__file__).resolve().parents[2]
SOURCES = [p.read_text() for p in sorted((REPO / "pipelines").glob("*.yaml"))]
SOURCES.append((REPO / "tests" / "data" / "valid" / "everything.yaml").read_text())


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    op = rng.randrange(6)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    elif op == 2:
        lines.insert(i, lines[j])
    elif op == 3:
        lines[i] = lines[i].replace(" ", "", 1)
    elif op == 4:
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = lines[i].replace("{{", "{", 1).replace("steps.", "steps[0].", 1)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(6))
def test_mutated_pipelines_fail_cleanly(seed):
    rng = random.Random(seed)
    for _ in range(150):
        text = mutate(rng.choice(SOURCES), rng)
        try:
            load_plan_text(text, "m.yaml")
        except SpecError as exc:
            assert exc.issues and all(i.file == "m.yaml" for i in exc.issues)


# ----- a part the schema rejects neither hides nor invents problems elsewhere -----

DATA = [yaml.safe_load(text) for text in SOURCES]
ERRORS_ELSEWHERE = [  # each makes compile report something about one agent step
    lambda step: step.update(prompt=step["prompt"] + " {{ steps.nosuch_step.output }}"),
    lambda step: step.update(prompt=step["prompt"] + " {{ inputs.nosuch_input }}"),
    lambda step: step.update(prompt=step["prompt"] + " {{ oops }"),
    lambda step: step.update(agent="nosuch_agent"),
]
WRONG_VALUES = [[], ["x"], "x", 0, {"zzz": 1}]


def step_paths(data: dict) -> list[tuple]:
    paths = []
    for name, step in data["steps"].items():
        paths.append(("steps", name))
        for body in step.get("loop", {}).get("steps", {}):
            paths.append(("steps", name, "loop", "steps", body))
    return paths


def at(data: dict, path: tuple):
    for key in path:
        data = data[key]
    return data


def break_step(data: dict, path: tuple, rng: random.Random) -> str:
    """Make the step at `path` fail the schema; returns what was done (for failure messages)."""
    step = at(data, path)
    key = rng.choice(sorted(step))
    op = rng.randrange(5)
    if op == 0:
        step["zzz_extra"] = 1
    elif op == 1:
        step[key + "x"] = step.pop(key)  # a misspelt key
    elif op == 2 and key != "loop":
        step[key] = rng.choice([v for v in WRONG_VALUES if type(v) is not type(step[key])])
    elif op == 3 and "loop" in step:
        loop_key = rng.choice(["max_iterations", "steps", "until", "extra"])
        step["loop"][loop_key] = rng.choice(WRONG_VALUES)
    else:
        at(data, path[:-1])[path[-1]] = "oops"
        return "step replaced"
    return f"op {op} on {key}"


def errors(text: str) -> set[tuple[str, str]]:
    try:
        load_plan_text(text, "m.yaml")
    except SpecError as exc:
        return {(i.path, i.message) for i in exc.issues if i.severity == "error"}
    return set()


def schema_errors(text: str) -> set[tuple[str, str]]:
    docs, issues = load_documents(text, "m.yaml")
    return {(i.path, i.message) for i in issues + schema.check(docs[0], "pipeline")[0]}


def inside(path: str, part: str) -> bool:
    return path == part or path.startswith((part + ".", part + "["))


@pytest.mark.parametrize("seed", range(6))
def test_a_broken_step_hides_nothing_else_and_invents_nothing(seed):
    rng = random.Random(seed)
    for _ in range(40):
        data = copy.deepcopy(rng.choice(DATA))
        paths = step_paths(data)
        broken, victim = rng.sample(paths, 2)
        victim_step = at(data, victim)
        if "prompt" in victim_step:
            rng.choice(ERRORS_ELSEWHERE)(victim_step)
        before_text = yaml.safe_dump(data, sort_keys=False)
        before = errors(before_text)
        what = break_step(data, broken, rng)
        after_text = yaml.safe_dump(data, sort_keys=False)
        after = errors(after_text)
        part, name = ".".join(broken[:2]) + "".join(f".{k}" for k in broken[2:]), broken[-1]
        context = f"{what} at {part}:\n{after_text}"
        assert any(inside(p, part) for p, _ in after), context
        # Nothing new but the schema's own complaints: no false positive from the hole.
        assert after - before <= schema_errors(after_text), context
        # Everything the intact parts had is still reported (unless it was about the broken
        # step itself, or a cycle through it, or a name a now unreadable loop body may hold).
        unreadable_body = "loop" in what or what == "step replaced"
        kept = {
            (p, m)
            for p, m in before
            if not inside(p, part)
            and f"'{name}'" not in m
            and "cycle" not in m
            and not (unreadable_body and m.startswith("unknown step"))
        }
        assert kept <= after, context
