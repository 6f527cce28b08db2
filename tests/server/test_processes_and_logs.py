"""Process plumbing (liveness, waits, termination, ports) and log reading."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from orchestrator.errors import ServerError
from orchestrator.server import logs, processes


def test_spawn_is_detached_logged_and_terminated(tmp_path):
    log = tmp_path / "logs" / "x.log"
    pid, ticks = processes.spawn(
        [sys.executable, "-c", "print('hello', flush=True); import time; time.sleep(60)"],
        env={},
        log=log,
        cwd=tmp_path,
    )
    assert processes.alive(pid, ticks)
    import os

    assert os.getsid(pid) == pid  # its own session: survives the terminal that started it
    deadline = time.monotonic() + 10
    while "hello" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "starting:" in log.read_text() and "hello" in log.read_text()
    assert processes.terminate(pid, ticks, timeout=5)
    assert not processes.alive(pid)
    assert processes.terminate(pid, ticks) is False  # already gone


def test_terminate_escalates_to_sigkill(tmp_path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    log = tmp_path / "stubborn.log"
    pid, ticks = processes.spawn([sys.executable, "-c", code], env={}, log=log, cwd=tmp_path)
    while "ready" not in log.read_text():
        time.sleep(0.05)
    started = time.monotonic()
    assert processes.terminate(pid, ticks, timeout=0.5)
    assert not processes.alive(pid) and time.monotonic() - started < 5


def test_alive_rejects_dead_and_bogus_pids():
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not processes.alive(dead.pid)
    assert not processes.alive(None) and not processes.alive(0) and not processes.alive(-1)


def test_port_in_use_detects_a_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert processes.port_in_use(port)
    assert not processes.port_in_use(port)


def test_wait_http_fails_fast_when_the_process_exits(tmp_path):
    log = tmp_path / "dies.log"
    pid, _ = processes.spawn(
        [sys.executable, "-c", "raise SystemExit('boom: bad config')"],
        env={},
        log=log,
        cwd=tmp_path,
    )
    started = time.monotonic()
    with pytest.raises(
        ServerError, match=r"exited during start-up; see .*dies\.log(.|\n)*boom: bad config"
    ):
        processes.wait_http("http://127.0.0.1:9/health", pid=pid, timeout=30, what="thing", log=log)
    assert time.monotonic() - started < 10


def test_wait_http_times_out_with_the_log_named(tmp_path):
    log = tmp_path / "slow.log"
    pid, ticks = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(30)"], env={}, log=log, cwd=tmp_path
    )
    try:
        with pytest.raises(
            ServerError, match=r"thing did not become healthy at .* within 1s; see .*slow\.log"
        ):
            processes.wait_http(
                "http://127.0.0.1:9/health", pid=pid, timeout=1, what="thing", log=log
            )
    finally:
        processes.terminate(pid, ticks, timeout=2)


def test_tail_lines_and_unknown_component(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("".join(f"line {i}\n" for i in range(100)))
    assert logs.tail_lines(path, 3) == ["line 97", "line 98", "line 99"]
    assert logs.tail_lines(tmp_path / "missing.log", 3) == []
    with pytest.raises(ServerError, match="unknown component 'db'"):
        logs.log_files(tmp_path, "db")
    names = [name for name, _ in logs.log_files(tmp_path)]
    assert names == ["letta", "model", "postgres"]


def test_follow_yields_appended_lines(tmp_path):
    path = tmp_path / "f.log"
    path.write_text("old\n")
    stop = threading.Event()
    seen: list[tuple[str, str]] = []

    def reader():
        for item in logs.follow([("x", path)], poll=0.02, should_stop=stop.is_set):
            seen.append(item)
            if len(seen) == 2:
                stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.1)
    with open(path, "a") as fh:
        fh.write("new 1\nnew ")
        fh.flush()
        time.sleep(0.1)
        fh.write("2\n")
    thread.join(5)
    stop.set()
    assert seen == [("x", "new 1"), ("x", "new 2")]
