"""One mapping of letta-client failures onto `orchestrator.errors`, shared by the run-time
backend (`letta.py`) and the provisioning backend (`letta_admin.py`), so both report a dead
server, a timeout or a refusal the same way.

connection refused/reset -> `ServerUnavailable` (the URL + how to start a server); timeouts,
408/409/429 and 5xx -> transient `BackendError`; 404 -> `NotFound`; other 4xx -> permanent
`BackendError`; an answer letta-client cannot read as Letta's (an HTML page, JSON of another
shape: it surfaces as AttributeError, TypeError, KeyError or ValueError while the answer is
read) -> `NotLetta`, permanent. Messages carry the status and the server's short reason,
never request bodies (prompts and tool environments may hold secrets) nor the values of a
malformed answer (it may quote them).

Must not: retry, log, or decide what a caller does with a transient error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import letta_client

from orchestrator.errors import BackendError, NotFound, ServerUnavailable

START_HINT = "start the embedded one with `orchestrate server start`, or pass --base-url"
# What reading a malformed answer raises (letta-client builds its objects without validating
# them, so a string or a mapping of the wrong shape fails only when it is used).
MALFORMED = (AttributeError, TypeError, KeyError, ValueError)


class NotLetta(BackendError):
    """The server at the URL answers, but not as a Letta server does. Permanent: asking
    again gets the same answer."""

    def __init__(self, message: str):
        super().__init__(message, transient=False)


def malformed(what: str, base_url: str, exc: BaseException) -> NotLetta:
    # The exception's own text only where it names types and attributes, never values:
    # a ValueError (pydantic, say) may quote the answer, and answers may hold secrets.
    detail = type(exc).__name__
    if isinstance(exc, AttributeError | TypeError | KeyError):
        detail += f": {str(exc)[:120]}"
    return NotLetta(
        f"{what}: the server at {base_url} answered something that is not a "
        f"Letta answer ({detail}); is {base_url} a Letta server?"
    )


def listed(answer: Any) -> Any:
    """`answer` to a list call (a list, or a letta-client page), once it is known to hold a
    list: a JSON object of another shape builds an empty page, which would read as "there is
    nothing on the server". Raises TypeError (so `translated` reports NotLetta) otherwise."""
    if isinstance(answer, list):
        return answer
    if not isinstance(answer, Mapping) and isinstance(getattr(answer, "items", None), list):
        return answer
    raise TypeError(f"expected a list, got {type(answer).__name__}")


def reason(exc: letta_client.APIStatusError) -> str:
    """The server's short explanation of a refusal (at most 300 characters)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    err = error if isinstance(error, dict) else {}
    text = err.get("detail") or err.get("message") or body.get("detail") or exc.message
    return str(text)[:300]


@contextlib.contextmanager
def translated(what: str, base_url: str) -> Iterator[None]:
    """Run a letta-client call, turning its exceptions into ours (`what` names the call)."""
    try:
        yield
    except letta_client.APITimeoutError:  # before APIConnectionError: it is a subclass
        raise BackendError(
            f"{what}: the Letta server did not answer in time", transient=True
        ) from None
    except letta_client.APIConnectionError:
        raise ServerUnavailable(
            f"{what}: no Letta server answers at {base_url} ({START_HINT})"
        ) from None
    except letta_client.NotFoundError as exc:
        raise NotFound(f"{what}: not found ({reason(exc)})", status=404) from None
    except letta_client.APIStatusError as exc:
        transient = exc.status_code in (408, 409, 429) or exc.status_code >= 500
        raise BackendError(
            f"{what}: HTTP {exc.status_code}: {reason(exc)}",
            transient=transient,
            status=exc.status_code,
        ) from None
    except letta_client.APIResponseValidationError as exc:
        raise malformed(what, base_url, exc) from exc
    except MALFORMED as exc:
        raise malformed(what, base_url, exc) from exc
