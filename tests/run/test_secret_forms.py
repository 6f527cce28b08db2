"""Secrets that slip past exact-string masking: split across streamed pieces, or escaped by
our own output (tojson, escape, urlencode, JSON records, repr in error messages)."""

from __future__ import annotations

import html
import io
import json
import random
import urllib.parse

import pytest

from orchestrator.backends.memory import MemoryBackend
from orchestrator.run.progress import PlainReporter, outcome_json
from orchestrator.run.render import outcome_text, run_detail
from orchestrator.run.secrets import Redactor

SECRET = 'open "se\\same" q42z'  # spaces, a quote and a backslash; no part a run id could hold
OTHER = "hunter two"


def _pieces(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(1, 12))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def _streamed(redactor: Redactor, pieces: list[str]) -> list[str]:
    out: list[str] = []
    mask = redactor.stream(out.append)
    for piece in pieces:
        mask.feed(piece)
    mask.flush()
    return out


def test_a_secret_split_across_pieces_is_still_masked():
    red = Redactor([SECRET, OTHER])
    text = f"say {SECRET} then {OTHER}{OTHER} and {json.dumps(SECRET)} end"
    for seed in range(300):
        out = "".join(_streamed(red, _pieces(text, random.Random(seed))))
        assert out == red.text(text) == 'say *** then ****** and "***" end', seed


def test_every_two_way_split_is_masked():
    red = Redactor([SECRET])
    text = f"a {SECRET} b"
    for cut in range(1, len(text)):
        out = _streamed(red, [text[:cut], text[cut:]])
        assert "".join(out) == "a *** b", cut


def test_the_stream_holds_back_at_most_a_secret_length_minus_one():
    red = Redactor(["abcdef"])
    out: list[str] = []
    mask = red.stream(out.append)
    mask.feed("0123456789")
    assert out == ["01234"]  # '56789' may be the start of the secret
    mask.feed("abc")
    assert "".join(out) == "01234567"  # "89abc" held
    mask.feed("def!")
    mask.flush()
    assert "".join(out) == "0123456789***!"


def test_without_secrets_a_stream_passes_through_unchanged():
    out: list[str] = []
    mask = Redactor().stream(out.append)
    for piece in ("a", "bc", "d"):
        mask.feed(piece)
    assert out == ["a", "bc", "d"]


@pytest.mark.parametrize(
    "form",
    [
        json.dumps(SECRET)[1:-1],  # tojson, our JSON output
        json.dumps(SECRET + "é")[1:-1],  # ASCII-escaped JSON
        html.escape(SECRET),
        "open &#34;se\\same&#34; q42z",  # html.escape; Jinja's escape
        urllib.parse.quote(SECRET),
        urllib.parse.quote_plus(SECRET),  # Jinja's urlencode
        repr(SECRET)[1:-1],  # error messages that quote a value with !r (jsonschema does)
    ],
)
def test_escaped_forms_are_masked(form):
    red = Redactor([SECRET, SECRET + "é"])
    assert red.text(f"<{form}>") == "<***>"


class ChunkingBackend(MemoryBackend):
    """Streams each reply three characters at a time, as Letta streams tokens."""

    def send(self, agent_id, prompt, *, otid, model=None, timeout=None, on_chunk=None):
        reply = super().send(agent_id, prompt, otid=otid, model=model, timeout=timeout)
        if on_chunk:
            for i in range(0, len(reply.text), 3):
                on_chunk(reply.text[i : i + 3])
        return reply


def test_streamed_output_never_shows_a_secret_split_across_chunks(harness):
    harness.backend = ChunkingBackend()
    harness.backend.script(prompt_contains="say", replies=[f"the key is {SECRET}, ok"])
    out = io.StringIO()
    harness.emit = PlainReporter(stream=True, out=out)
    result = harness.run(
        """
inputs: {token: {type: string, secret: true}}
agents: {a: {}}
steps:
  s: {agent: a, prompt: "say {{ inputs.token }}"}
""",
        {"token": SECRET},
        stream=True,
    )
    assert result.status == "succeeded"
    chunks = "".join(
        line.split("s > ", 1)[1] for line in out.getvalue().splitlines() if "s > " in line
    )
    assert chunks == "the key is ***, ok"
    for part in SECRET.split():
        assert part not in out.getvalue()


def test_tojson_and_escape_in_outputs_do_not_leak_a_secret(harness):
    result = harness.run(
        """
inputs: {token: {type: string, secret: true}}
agents: {a: {}}
steps:
  s: {agent: a, prompt: "hello"}
outputs:
  as_json: "{{ {'token': inputs.token} | tojson }}"
  as_html: "{{ inputs.token | e }}"
  as_url: "{{ inputs.token | urlencode }}"
  as_query: "{{ {'t': inputs.token} | urlencode }}"
""",
        {"token": SECRET},
    )
    assert result.status == "succeeded"
    assert result.outputs["as_json"] == json.dumps({"token": SECRET}, ensure_ascii=False)
    run = harness.records.run(result.run_id)
    units = list(harness.records.units(result.run_id).values())
    shown = [
        json.dumps(outcome_json(result)),
        outcome_text(result),
        json.dumps(run),
        run_detail(run, units),
        json.dumps({"run": run, "steps": units}, default=str),
    ]
    forms = {
        json.dumps(SECRET)[1:-1],
        html.escape(SECRET),
        "open &#34;se\\same&#34; q42z",
        urllib.parse.quote(SECRET),
        urllib.parse.quote_plus(SECRET),
        SECRET,
    }
    for text in shown:
        assert not [f for f in forms if f in text], text
    assert run["outputs"] == {
        "as_json": '{"token": "***"}',
        "as_html": "***",
        "as_url": "***",
        "as_query": "t=***",
    }
