"""OpenAI wire shapes: chat completions (whole and as SSE chunks), embeddings, errors, usage.

Owns the JSON the local model sends back and the deterministic token count (whitespace-split
words). Knows nothing about scripts or HTTP plumbing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import time
from collections.abc import Iterator
from typing import Any

from .conversation import text_of

DEFAULT_EMBEDDING_DIM = 1536
_WORD = re.compile(r"\w+", re.UNICODE)


def count_tokens(text: str) -> int:
    return len(text.split())


def prompt_tokens(body: dict) -> int:
    return sum(
        count_tokens(text_of(m.get("content")))
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )


def usage(prompt: int, completion: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def tool_call_json(call_id: str, name: str, arguments: dict) -> dict:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def completion(cid: str, model: str, message: dict, finish: str, use: dict) -> dict:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": use,
    }


def chunks(cid: str, model: str, message: dict, finish: str, use: dict | None) -> Iterator[dict]:
    """The same answer as `completion`, cut into chat.completion.chunk objects."""
    created = int(time.time())

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
        }

    yield chunk({"role": "assistant", "content": ""})
    for i, call in enumerate(message.get("tool_calls") or []):
        head = {**call, "index": i, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield chunk({"tool_calls": [head]})
        yield chunk(
            {"tool_calls": [{"index": i, "function": {"arguments": call["function"]["arguments"]}}]}
        )
    for piece in _pieces(message.get("content") or ""):
        yield chunk({"content": piece})
    yield chunk({}, finish)
    if use is not None:
        yield {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": use,
        }


def _pieces(text: str, words: int = 4) -> Iterator[str]:
    """Split text into pieces of a few words, keeping every character (whitespace included)."""
    parts = re.findall(r"\S+\s*|\s+", text)
    for i in range(0, len(parts), words):
        yield "".join(parts[i : i + words])


def error_body(status: int, message: str) -> dict:
    kind = (
        "rate_limit_error"
        if status == 429
        else "server_error"
        if status >= 500
        else "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def embed(text: str, dim: int) -> list[float]:
    """A deterministic unit vector: hashed bag of words, so shared words mean similar vectors."""
    vec = [0.0] * dim
    words = _WORD.findall(text.lower()) or [text]
    for word in words:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        for k in range(4):
            index = int.from_bytes(digest[4 * k : 4 * k + 3], "big") % dim
            vec[index] += 1.0 if digest[4 * k + 3] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:  # every word cancelled out: fall back to one hashed axis
        vec[int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") % dim] = 1.0
        norm = 1.0
    return [v / norm for v in vec]


def embeddings(body: dict) -> dict:
    raw = body.get("input", "")
    inputs = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
    texts = [
        x if isinstance(x, str) else " ".join(map(str, x)) if isinstance(x, list) else str(x)
        for x in inputs
    ]
    dim = body.get("dimensions") or DEFAULT_EMBEDDING_DIM
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vector: Any = embed(text, int(dim))
        if as_base64:  # what the openai SDK asks for by default: little-endian float32
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": i, "embedding": vector})
    tokens = sum(count_tokens(t) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", ""),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
