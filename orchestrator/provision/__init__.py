"""GitOps provisioning: agents, shared blocks, tools and folders as code.

Public API: `plan`, `apply`, `destroy_plan`, `destroy` (service.py), `diff` (the pure engine),
`export_resources` (export.py), `DiffOptions`, `ChangeSet`, and `render_text`/`render_json`.
Flow: read the server (state.py) -> pure diff (diff_engine.py) -> the ChangeSet the user
sees -> apply exactly it under a lock (apply_changes.py, lock.py). See docs/provisioning.md.
No module is named `apply` or `diff`: `orchestrator.provision.apply` and `.diff` are only
ever these functions.
"""

from orchestrator.provision.changes import Change, ChangeSet, FieldChange
from orchestrator.provision.desired import DiffOptions
from orchestrator.provision.diff_engine import destroy_diff, diff
from orchestrator.provision.service import apply, destroy, destroy_plan, plan
from orchestrator.provision.state import ActualState, read_state

__all__ = [
    "ActualState",
    "Change",
    "ChangeSet",
    "DiffOptions",
    "FieldChange",
    "apply",
    "destroy",
    "destroy_diff",
    "destroy_plan",
    "diff",
    "plan",
    "read_state",
]
