"""Bad input gives located issues, never a traceback: mutate real pipelines line by line
(seeded, so failures reproduce) and require either a plan or a SpecError."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from orchestrator.compile import load_plan_text
from orchestrator.errors import SpecError

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
