"""--stream against the embedded Letta: Letta streams a reply token by token, so a secret
with spaces in it arrives split across chunks; what is shown must still mask it whole."""

from __future__ import annotations

import io

import pytest

from orchestrator.backends.letta import LettaBackend
from orchestrator.run.progress import PlainReporter
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, start_run

pytestmark = pytest.mark.integration
SECRET = "zq7x wv9k ktpq"  # three words no model text contains by chance


def test_a_streamed_secret_split_across_chunks_is_masked(
    letta_stack, model_script, tmp_path, compile_text
):
    model_script([{"prompt_contains": "repeat", "reply": f"the code is {SECRET} - done"}])
    out, chunks = io.StringIO(), []
    plain = PlainReporter(stream=True, out=out)

    def emit(kind, **data):
        if kind == "chunk":
            chunks.append(data["text"])
        plain(kind, **data)

    plan = compile_text("""
inputs: {code: {type: string, secret: true}}
agents: {a: {}}
steps:
  s: {agent: a, prompt: "repeat {{ inputs.code }}"}
""")
    records = Records(tmp_path / "runs.db")
    try:
        result = start_run(
            plan,
            {"code": SECRET},
            LettaBackend(letta_stack.base_url),
            records,
            options=RunOptions(stream=True),
            emit=emit,
        )
    finally:
        records.close()
    assert result.status == "succeeded", result.error
    assert result.outputs == {} and result.results["s"].output == f"the code is {SECRET} - done"
    assert "".join(chunks) == "the code is *** - done"
    for word in SECRET.split():
        assert word not in out.getvalue()
