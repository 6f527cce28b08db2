"""Running the items of one `for_each` step side by side.

Owns `fan_out(svc, count, run_one, width, name)`: calls `run_one(index)` for every index,
at most `width` at once, and returns the results in index order. With width 1 it is a plain
loop on the caller's thread (exactly the sequential behaviour). Otherwise `width` daemon
threads take the next index in order (a Ctrl-C or run timeout must not wait for a blocked
HTTP call, as in the executor); when an item raises, no further item starts, the ones in
flight finish, and the exception of the lowest failed index is raised (`Cancelled` first:
the run is stopping). While waiting, the caller checks for cancellation and gives up at once.
Each item that ends (succeeded or failed, not abandoned) emits `item_finished` (step: the
unit's label, item, ok, done: how many have ended, total): the live table's "3/10 items".

Must not: know what an item is (run.flow decides), or which agent copy runs it (run.step).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from orchestrator.run.services import Cancelled, Services

T = TypeVar("T")
POLL = 0.05  # seconds between cancellation checks while items run


# Another executor's way to run the items (the Temporal executor runs each item as an
# activity of its own): set for the current thread's context only, see `items_by`.
FanOut = Callable[[Services, int, Callable[[int], Any], int, str], list[Any]]
_executor_fan_out: contextvars.ContextVar[FanOut | None] = contextvars.ContextVar(
    "executor_fan_out", default=None
)


@contextlib.contextmanager
def items_by(hook: FanOut) -> Iterator[None]:
    """Within this block (this thread), `fan_out` hands the items to `hook` instead."""
    token = _executor_fan_out.set(hook)
    try:
        yield
    finally:
        _executor_fan_out.reset(token)


def _reporting(
    svc: Services, count: int, run_one: Callable[[int], T], label: str
) -> Callable[[int], T]:
    ended, lock = [0], threading.Lock()

    def finished(index: int, ok: bool) -> None:
        with lock:
            ended[0] += 1
            done = ended[0]
        svc.emit("item_finished", step=label, item=index, ok=ok, done=done, total=count)

    def run(index: int) -> T:
        try:
            result = run_one(index)
        except Cancelled:
            raise
        except Exception:
            finished(index, False)
            raise
        finished(index, True)
        return result

    return run


def fan_out(
    svc: Services, count: int, run_one: Callable[[int], T], width: int, name: str = "item"
) -> list[T]:
    hook = _executor_fan_out.get()
    if hook is not None:
        return hook(svc, count, run_one, width, name)
    run_one = _reporting(svc, count, run_one, name.removesuffix("-item"))
    if width <= 1 or count <= 1:
        return [run_one(index) for index in range(count)]
    results: dict[int, T] = {}
    errors: dict[int, BaseException] = {}
    state = {"next": 0}
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if errors or state["next"] >= count:
                    return
                index = state["next"]
                state["next"] += 1
            try:
                result = run_one(index)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                with lock:
                    errors[index] = exc
                return
            with lock:
                results[index] = result

    threads = [
        threading.Thread(target=worker, name=f"{name}-{n}", daemon=True)
        for n in range(min(width, count))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            svc.check_cancelled()  # abandon the items in flight: their threads are daemons
            thread.join(POLL)
    if errors:
        cancelled = [exc for exc in errors.values() if isinstance(exc, Cancelled)]
        raise cancelled[0] if cancelled else errors[min(errors)]
    return [results[index] for index in range(count)]
