"""How long any one call to a Letta server may take: `Limits`.

Every HTTP call the backends make has a timeout, never letta-client's 600 s default: the
health check a short one (`HEALTH_TIMEOUT`), bookkeeping and provisioning calls
`CALL_TIMEOUT`, a message turn the step's timeout (else `MESSAGE_TIMEOUT`). When the run has
a time limit (`run --timeout`, `run_timeout`), no call outlives what is left of it, so a
server that accepts connections and never answers cannot hold a run past its deadline.
Deleting what the run made is the exception: it may take `CLEANUP_GRACE` past the deadline
(a run that succeeded just in time must still be able to delete its agents).

Must not: talk to the server, or decide what a timeout means (letta_errors.py maps it).
"""

from __future__ import annotations

import time

HEALTH_TIMEOUT = 10.0  # a Letta server answers GET /v1/health/ in milliseconds
CALL_TIMEOUT = 120.0  # one create, list, delete, attach, upload or history read
MESSAGE_TIMEOUT = 600.0  # one message turn, when the step sets no timeout of its own
CLEANUP_GRACE = 15.0  # a delete after the run's deadline (agents left behind otherwise)
SHORTEST = 0.05  # a call is never given less (0 would mean "no timeout" to some layers)


class Limits:
    """The timeout of each kind of call, bounded by the run's deadline when it has one."""

    def __init__(self, *, call: float = CALL_TIMEOUT, run_timeout: float | None = None):
        self.call_timeout = call
        self.deadline = time.monotonic() + run_timeout if run_timeout else None

    def remaining(self) -> float | None:
        """Seconds left of the run (None: the run has no time limit)."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def bounded(self, seconds: float, *, floor: float = SHORTEST) -> float:
        left = self.remaining()
        if left is not None:
            seconds = min(seconds, max(left, floor))
        return max(seconds, SHORTEST)

    def health(self) -> float:
        return self.bounded(HEALTH_TIMEOUT)

    def call(self) -> float:
        return self.bounded(self.call_timeout)

    def cleanup(self) -> float:
        return self.bounded(self.call_timeout, floor=min(CLEANUP_GRACE, self.call_timeout))

    def message(self, step_timeout: float | None) -> float:
        return self.bounded(step_timeout or MESSAGE_TIMEOUT)
