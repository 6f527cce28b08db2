"""`orchestrate ui`: a local, read-only web view of the run records.

Owns the pages (runs list, one run: DAG, timeline, units), their queries and the SVG they
draw. Everything comes from the run records (SQLite or PostgreSQL, through
`run.records.Records`), so it shows runs of either executor, live or finished.

Must not: write records, talk to Letta, or import the web stack at import time of this
package (the CLI imports `orchestrator.ui.app` only when `orchestrate ui` runs).
"""
