"""The backends layer: the only code that talks to Letta.

- `base`: the run-time Protocol (`RunBackend`: agent lifecycle, messaging, crash
  reconciliation by otid) and its data types; `memory.MemoryBackend` implements it in
  process (scriptable; the unit-test fake), `letta.LettaBackend` on letta-client.
- `admin`: the provisioning Protocol; `admin_memory` / `letta_admin` implement it.
- `requests`: what both Protocols create (`NewAgent`, `NewBlock`); `letta_args` maps them
  (once, for both letta-client backends) onto letta-client arguments.
- `identity`: the tags by which orchestrate recognises the objects it manages.
- `connect`: `run_backend` / `admin_backend`, the one way callers make the letta-client
  backends (importing letta-client only then).

Only `letta.py` and `letta_admin.py` import letta_client. This package imports neither at
import time, so `import orchestrator.backends` stays cheap.
"""

import os as _os

# letta-client builds its pydantic models lazily, on first use, by default. A model whose
# build is under way in one thread looks unbuilt to another, which then fails with
# "PydanticUserError: BaseModel cannot be instantiated directly" (seen once in ~140 messages
# with 20 concurrent runs). Built eagerly, each model is complete when its module's import
# (serialised by Python's import lock) returns; it costs ~0.1 s at the first import.
_os.environ.setdefault("DEFER_PYDANTIC_BUILD", "false")
