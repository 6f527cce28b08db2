"""The state dir and what it holds are their owner's only (0700 directories, 0600 files:
records, keys, logs, tokens, server.json, locks), also when an older version left them
looser; the local model's admin routes answer only callers with the token (issue 20)."""

from __future__ import annotations

import json
import os
import stat
import threading
import urllib.error
import urllib.request

import pytest

from orchestrator import private
from orchestrator.provision.lock import local_lock
from orchestrator.run.batch_records import BatchRecords
from orchestrator.run.records import Records
from orchestrator.server import processes, state
from orchestrator.server.model_endpoint.admin import TOKEN_FILE, ModelAdmin, admin_token
from orchestrator.server.model_endpoint.http_server import ModelEndpoint, make_server
from orchestrator.server.paths import StackPaths


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_records_made_in_a_new_state_dir_are_the_owners_only(tmp_path):
    home = tmp_path / "state"
    records = Records(home / "runs.db")
    records.close()
    assert mode(home) == private.home_mode()
    assert private.home_mode() in (0o700, 0o711)
    for name in os.listdir(home):  # runs.db and its -wal/-shm
        assert mode(home / name) == 0o600, name
    BatchRecords(home / "runs.db").close()
    assert mode(home / "runs.db") == 0o600


def test_a_looser_state_dir_left_by_an_older_version_is_tightened(tmp_path):
    home = tmp_path / "old"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    (home / "runs.db").touch()
    os.chmod(home / "runs.db", 0o644)
    Records(home / "runs.db")
    assert mode(home) == private.home_mode() and mode(home / "runs.db") == 0o600


def test_a_directory_the_user_chose_for_records_is_left_as_it_is(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    Records(shared / "mine.db")
    assert mode(shared) == 0o755 and mode(shared / "mine.db") == 0o600


def test_stack_state_logs_and_locks_are_the_owners_only(tmp_path):
    paths = StackPaths(tmp_path / "home")
    with state.locked(paths):
        state.write(paths, {"letta": {"pid": 1}})
    assert mode(paths.home) == private.home_mode()
    assert mode(paths.state_file) == 0o600 and mode(paths.lock_file) == 0o600
    pid, _ = processes.spawn(["true"], env={}, log=paths.log("model"), cwd=tmp_path)
    assert pid > 0
    assert mode(paths.logs) == 0o700 and mode(paths.log("model")) == 0o600
    with local_lock(paths.home / "locks", "http://x", "default") as lock:
        assert mode(lock) == 0o600 and mode(lock.parent) == 0o700


def test_write_private_is_atomic_and_never_looser(tmp_path):
    target = tmp_path / "token"
    target.write_text("old")
    os.chmod(target, 0o644)
    private.write_private(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600


@pytest.fixture
def guarded():
    server = make_server(ModelEndpoint(admin_token="t0ken-for-tests"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _status(url: str, token: str | None = None, body: bytes | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_admin_routes_refuse_callers_without_the_token(guarded):
    for path in ("/_admin/script", "/_admin/requests", "/v1/_admin/script"):
        assert _status(guarded + path) == 401
        assert _status(guarded + path, "wrong") == 401
    assert _status(guarded + "/_admin/reset", body=b"{}") == 401
    assert _status(guarded + "/_admin/script", "t0ken-for-tests") == 200
    assert _status(guarded + "/health") == 200 and _status(guarded + "/v1/models") == 200
    with pytest.raises(ValueError, match="401") as err:
        ModelAdmin(guarded, token="wrong").script()
    assert "t0ken-for-tests" not in str(err.value)


def test_the_client_finds_the_token_of_the_state_dirs_stack(guarded, tmp_path, monkeypatch):
    home = tmp_path / "stack"
    port = int(guarded.rsplit(":", 1)[1])
    private.state_dir(home)
    (home / "server.json").write_text(json.dumps({"version": 1, "model": {"port": port}}))
    private.write_private(home / TOKEN_FILE, "t0ken-for-tests\n")
    monkeypatch.setenv("ORCHESTRATE_HOME", str(home))
    monkeypatch.delenv("ORCHESTRATE_MODEL_ADMIN_TOKEN", raising=False)
    assert admin_token(home) == "t0ken-for-tests"
    assert ModelAdmin(guarded).set_script([{"prompt_contains": "x", "reply": "y"}]) == 1
    assert "t0ken" not in repr(ModelAdmin(guarded))
    (home / "server.json").write_text(json.dumps({"version": 1, "model": {"port": port + 1}}))
    with pytest.raises(ValueError, match="401"):  # another stack's endpoint: not its token
        ModelAdmin(guarded).script()


def test_batch_results_keep_their_mode_when_compacted(tmp_path):
    from orchestrator.run.batch_results import ResultsFile

    path = private.private_dir(tmp_path / "batches") / "b.jsonl"
    private.open_private(path, "w").close()
    results = ResultsFile(path)
    results.write(2, run_id="r2", status="succeeded")
    results.write(1, run_id="r1", status="succeeded")
    results.compact()
    assert mode(path) == 0o600 and [
        json.loads(x)["line"] for x in path.read_text().splitlines()
    ] == [1, 2]
