"""The fast render path must be indistinguishable from Jinja: same text, or the same error
(type and message), for every template it accepts; and it must accept the common ones."""

from __future__ import annotations

import random

import pytest

from orchestrator.compile import fastrender
from orchestrator.compile.templates import environment

CONTEXT = {
    "inputs": {
        "topic": "owls",
        "n": 3,
        "depth": 2,
        "items": ["a", "b", "c"],
        "flag": False,
        "text": "  Mixed Case  ",
        "nums": [3, 1, 2],
        "none": None,
    },
    "steps": {
        "draft": {"output": "a draft text", "ran": True, "status": "succeeded"},
        "review": {
            "output": {"approved": False, "feedback": "more <detail> & care", "score": 7},
            "ran": True,
            "status": "succeeded",
        },
        "skip": {"output": None, "ran": False, "status": "skipped"},
        "items": {"output": ["x", "y"], "ran": True, "status": "succeeded"},
    },
    "item": {"name": "n1", "size": 4},
    "loop": {"index": 2, "first": False, "previous": None},
}

TEMPLATES = [
    "plain text only",
    "",
    "{{ inputs.topic }}",
    "Research {{ inputs.topic }} for {{ inputs.n }}",
    "{{ steps.draft.output[:5] }}|{{ steps.draft.output[2:] }}|{{ steps.draft.output[::2] }}",
    "{{ steps.review.output.approved }}",
    "{{ not steps.review.output.approved }}",
    "{{ steps.review.output['feedback'] }}",
    "{{ steps.review.output.feedback | upper }}",
    "{{ inputs.text | trim | lower }}",
    "{{ inputs.items | join(', ') }}",
    "{{ inputs.items | length }}",
    "{{ inputs.nums | sort | list }}",
    "{{ inputs.items | map('upper') | join }}",
    "{{ inputs.items | select('equalto', 'b') | list }}",
    "{{ steps.review.output | tojson }}",
    "{{ inputs.n + 1 }}",
    "{{ inputs.n * 2 }}",
    "{{ inputs.n / 2 }}",
    "{{ inputs.n // 2 }}",
    "{{ inputs.n % 2 }}",
    "{{ -inputs.n }}",
    "{{ inputs.n - 1 }}",
    "{{ 'x' * 3 }}",
    "{{ 'a' + 'b' }}",
    "{{ '%s-%d' % ('a', 3) }}",
    "{{ inputs.n > 2 and inputs.depth < 5 }}",
    "{{ 1 < inputs.n < 5 }}",
    "{{ 'b' in inputs.items }}",
    "{{ 'z' not in inputs.items }}",
    "{{ inputs.flag or 'fallback' }}",
    "{{ inputs.topic if inputs.flag else 'other' }}",
    "{{ inputs.missing is defined }}",
    "{{ inputs.topic is not defined }}",
    "{{ inputs.n is divisibleby(3) }}",
    "{{ inputs.none is none }}",
    "{{ [1, 2, inputs.n] }}",
    "{{ (1, 'a') }}",
    "{{ 1, 2 }}",
    "{{ true }} {{ false }} {{ none }} {{ True }} {{ None }}",
    "{{ steps.skip.output }}",
    "{{ steps.skip.ran }}",
    "{{ steps.items.output[0] }}",
    "{{ item.name }}-{{ item['size'] }}",
    "{{ loop.index }} {{ loop.first }} {{ loop.previous }}",
    "{{ range(3) | list }}",
    "{{ inputs.topic.upper() }}",
    "{{ inputs.topic.replace('o', '0') }}",
    "{{ dict(a=1) }}",
    "{{ inputs.text.strip().split(' ') }}",
    "{{ inputs.topic | default('d') }}",
    "{{ inputs.missing | default('d') }}",
    "{{ inputs.nums | sum }}",
    "{{ inputs.nums | max }}",
    "{{ inputs.topic | center(9) }}",
    "{{ inputs.topic | replace('o', 'O') }}",
    "{{ inputs.items | first }}{{ inputs.items | last }}",
    "{{ steps.review.output.score | string }}",
    "{{ 3.5 | round }}",
    "{{ inputs.topic | truncate(3, True, '') }}",
    "{{ inputs.items | batch(2) | list }}",
    "{{ -inputs.n | abs }}",
    "{{ (not inputs.flag) | string }}",
    "multi\nline {{ inputs.topic }}\n\n  indented {{ inputs.n }}\n",
    "a {{ inputs.topic }} } b }} c { d",
    # errors: same type and message both ways
    "{{ inputs.nope }}",
    "{{ steps.nope.output }}",
    "{{ steps.draft.nope.deeper }}",
    "{{ inputs.topic + 1 }}",
    "{{ inputs.n / 0 }}",
    "{{ inputs.topic.__class__ }}",
    "{{ inputs.topic.__class__.__mro__ }}",
    "{{ undefined_name }}",
    "{{ undefined_name.x }}",
    "{{ inputs.items[10] }}",
    "{{ inputs.nope | upper }}",
    "{{ inputs.nope or 1 }}",
    "{{ 1 if inputs.nope else 2 }}",
    "{{ inputs.items.pop }}",
    "{{ range(10000000) }}",
    "{{ inputs.n(1) }}",
    "{{ inputs.nope[0] }}",
    "{{ inputs.nope[:1] }}",
    "{{ inputs.topic | batch('x') | list }}",
    "{{ inputs.nope == 1 }}",
]

# Jinja-only forms the fast path must leave to Jinja.
NOT_FAST = [
    "{% if x %}y{% endif %}",
    "{# c #}{{ x }}",
    "{{- x }}",
    "{{ x -}}",
    "{{ a ~ b }}",
    "{{ 2 ** 3 }}",
    "{{ {'a': 1} }}",
    "{{ 'a\\nb' }}",
    "{{ .5 }}",
    "{{ 5. }}",
    "{{ 1e3 }}",
    "{{ 0x10 }}",
    "{{ a + b | upper }}",
    "{{ a * b | string }}",
    "{{ a + b is defined }}",
    "{{ r'x' }}",
    "{{ x if y }}",
    "{{ x | upper.y }}",
    "{{ [x for x in y] }}",
    "{{ x | nosuchfilter }}",
    "{{ x is nosuchtest }}",
    "a\r\nb {{ x }}",
    "{{ x",
    "{{ é }}",
    "{{ f(*a) }}",
    "{{ f(**a) }}",
    "{{ lambda: 1 }}",
    "{{ (y := 1) }}",
    "{{ '{}'.format(1) }}",
    "{{ '7' | int + 1 }}",
    "{{ (n + 1) | string }}",
    "{{ x is number if y else z }}",
]


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return (type(exc).__name__, str(exc))


def _both(source: str):
    env = environment()
    prog = fastrender.program(source, env)
    assert prog is not None, f"not on the fast path: {source!r}"
    fast = _outcome(lambda: fastrender.render(prog, env, CONTEXT))
    slow = _outcome(lambda: env.from_string(source).render(CONTEXT))
    return fast, slow


@pytest.mark.parametrize("source", TEMPLATES)
def test_fast_path_renders_exactly_as_jinja(source):
    fast, slow = _both(source)
    assert fast == slow


@pytest.mark.parametrize("source", NOT_FAST)
def test_forms_where_python_and_jinja_differ_go_to_jinja(source):
    assert fastrender.program(source, environment()) is None


def test_expressions_evaluate_to_the_same_native_values():
    env = environment()
    for source in [
        "steps.review.output.approved",
        "inputs.items",
        "inputs.n > 2",
        "steps.items.output + ['z']",
        "inputs.nums | sort",
        "none",
        "(1, 2)",
        "inputs.nope",
        "steps.review.output",
    ]:
        node = fastrender.expression(source, env)
        assert node is not None, source
        fast = _outcome(lambda node=node: fastrender.evaluate(node, env, CONTEXT))
        slow = _outcome(
            lambda s=source: env.compile_expression(s, undefined_to_none=False)(**CONTEXT)
        )
        if fast[0] == "ok" and slow[0] == "ok" and hasattr(slow[1], "_undefined_name"):
            assert type(fast[1]) is type(slow[1]) and str(fast[1]._undefined_name) == str(
                slow[1]._undefined_name
            )
        else:
            assert fast == slow, source


ATOMS = [
    "inputs.n",
    "inputs.depth",
    "inputs.topic",
    "inputs.items",
    "inputs.nums",
    "steps.draft.output",
    "steps.review.output.score",
    "steps.skip.output",
    "item.size",
    "inputs.flag",
    "inputs.missing",
    "1",
    "2",
    "0",
    "'ab'",
    "'x y'",
    "none",
    "true",
    "[1, 2]",
    "(3,)",
    "loop.index",
    "undefined_name",
    "inputs.items[0]",
    "steps.draft.output[:3]",
    "-inputs.n",
    "inputs.topic.upper()",
    "range(3)",
    "inputs.items[inputs.n]",
    "steps.review.output['score']",
]
FILTERS = [
    "upper",
    "length",
    "string",
    "list",
    "first",
    "abs",
    "int",
    "default(0)",
    "join('-')",
    "trim",
    "sort",
    "reverse | list",
    "round",
    "float",
    "count",
]
BINARY = ["+", "-", "*", "/", "//", "%", "==", "!=", "<", ">=", "in", "not in", "and", "or"]


def _random_expr(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return rng.choice(ATOMS)
    if roll < 0.5:
        return f"{_random_expr(rng, depth + 1)} | {rng.choice(FILTERS)}"
    if roll < 0.7:
        return f"{_random_expr(rng, depth + 1)} {rng.choice(BINARY)} {_random_expr(rng, depth + 1)}"
    if roll < 0.8:
        return f"({_random_expr(rng, depth + 1)})"
    if roll < 0.88:
        return f"not {_random_expr(rng, depth + 1)}"
    if roll < 0.94:
        return (
            f"{_random_expr(rng, depth + 1)} if {_random_expr(rng, depth + 1)} else "
            f"{_random_expr(rng, depth + 1)}"
        )
    return f"{_random_expr(rng, depth + 1)} is {rng.choice(['defined', 'none', 'number', 'odd'])}"


def test_random_expressions_agree_with_jinja():
    rng = random.Random(12)
    env = environment()
    fast_count = 0
    for _ in range(4000):
        source = f"x {{{{ {_random_expr(rng)} }}}} y"
        prog = fastrender.program(source, env)
        if prog is None:
            continue  # Jinja renders it (e.g. `a + b | f`): nothing to compare
        fast_count += 1
        fast = _outcome(lambda prog=prog: fastrender.render(prog, env, CONTEXT))
        slow = _outcome(lambda source=source: env.from_string(source).render(CONTEXT))
        assert fast == slow, source
    assert fast_count > 2000  # the fast path must cover most of them
