"""The backends layer: the only code that talks to Letta.

- `base`: the run-time Protocol (`RunBackend`: agent lifecycle, messaging, crash
  reconciliation by otid) and its data types; `memory.MemoryBackend` implements it in
  process (scriptable; the unit-test fake), `letta.LettaBackend` on letta-client.
- `admin`: the provisioning Protocol; `admin_memory` / `letta_admin` implement it.
- `requests`: what both Protocols create (`NewAgent`, `NewBlock`); `letta_args` maps them
  (once, for both letta-client backends) onto letta-client arguments.
- `identity`: the tags by which orchestrate recognises the objects it manages.

Only `letta.py` and `letta_admin.py` import letta_client. This package imports neither at
import time, so `import orchestrator.backends` stays cheap.
"""
