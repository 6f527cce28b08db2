"""The run layer: executes a compiled `Plan` through a `RunBackend`, and records every run.

Public API: `runner.start_run`, `runner.resume_run`, `runner.RunOptions` / `RunOutcome`,
`dryrun.dry_run`, `records.Records`, `progress.make_reporter`.

Where the semantics live (one place each, so a future Temporal executor reuses them):
`flow` (skips, when, for_each, loops), `step` (one agent call: render, otid, retries,
timeouts, JSON repair, reconciliation), `context` (what templates see), `agents` (which
Letta agent answers, created or found), `secrets` (env resolution, redaction). The local
`executor` only decides *when* a step runs.
"""
