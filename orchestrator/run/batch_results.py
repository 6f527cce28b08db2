"""A batch's results file: one JSON line per input line, written as items finish.

Owns `ResultsFile`: appends `{"line", "run_id", "status", "outputs", "error"}` and flushes
it at once (so a crash, even kill -9, loses nothing already finished), knows which lines
the file already holds (a resumed batch does not write them twice), and `compact()`s the
file into input order, one line per input line, once every item is settled (atomically:
a temporary file renamed over the old one). A truncated last line left by a crash is
ignored on reading and dropped by `compact()`.

Must not: redact (callers hand in outputs and errors already masked by the run's Redactor:
a results file must never hold a secret) or decide anything about the batch.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import IO, Any


class ResultsFile:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._written = set(self._read())  # only line numbers: outputs stay on disk
        self._out: IO[str] | None = None

    @property
    def written(self) -> set[int]:
        with self._lock:
            return set(self._written)

    def write(
        self,
        line: int,
        *,
        run_id: str | None,
        status: str,
        outputs: Any = None,
        error: str | None = None,
    ) -> None:
        row = {"line": line, "run_id": run_id, "status": status, "outputs": outputs, "error": error}
        text = json.dumps(row, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            out = self._open()
            out.write(text)
            out.flush()  # in the kernel now: a killed process does not lose it
            self._written.add(line)

    def compact(self) -> None:
        """Rewrite the file in input order, one (the last) result per line."""
        with self._lock:
            self._close()
            rows = self._read()
            temp = self.path.with_name(self.path.name + ".tmp")
            with open(temp, "w", encoding="utf-8") as out:
                for line in sorted(rows):
                    out.write(json.dumps(rows[line], ensure_ascii=False, default=str))
                    out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            if self.path.exists():  # keeps the file's mode (0600 in the state dir)
                shutil.copymode(self.path, temp)
            os.replace(temp, self.path)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open(self) -> IO[str]:
        if self._out is None:
            ends_cleanly = True
            if self.path.exists() and self.path.stat().st_size:
                with open(self.path, "rb") as existing:
                    existing.seek(-1, os.SEEK_END)
                    ends_cleanly = existing.read(1) == b"\n"
            self._out = open(self.path, "a", encoding="utf-8")
            if not ends_cleanly:  # a line cut short by a crash: start on a fresh line
                self._out.write("\n")
        return self._out

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def _read(self) -> dict[int, dict[str, Any]]:
        """line -> the last result written for it."""
        rows: dict[int, dict[str, Any]] = {}
        if not self.path.exists():
            return rows
        for raw in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(raw)
            except ValueError:
                continue  # cut short by a crash
            if isinstance(row, dict) and isinstance(row.get("line"), int):
                rows[row["line"]] = row
        return rows
