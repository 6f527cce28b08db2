"""Generate large synthetic pipelines for benchmarks: blocks of fan-out / fan-in.

Each block has one hub step and `width` workers reading the hub; the next block's hub
reads every worker of the previous block. Every prompt is distinct (real pipelines do not
repeat templates), so template caches do not flatter the figure; hub prompts use a filter,
a third of the workers have a `when`, a quarter ask for JSON. Steps are written one per line
in flow style, so that 100,000 steps stay under the spec's file-size limit (16 MiB).

Usage: python bench/generate.py [STEPS] > big.yaml
"""

from __future__ import annotations

import sys

AGENTS = ("planner", "worker", "critic", "editor")
JSON = "output: {format: json, schema: {type: object, required: [answer]}}"


def pipeline_text(steps: int = 2000, width: int = 9) -> str:
    lines = [
        "apiVersion: orchestrate/v1",
        "kind: Pipeline",
        "metadata: {name: generated, description: synthetic fan-out/fan-in benchmark}",
        "inputs:",
        "  topic: {type: string, default: benchmarks}",
        "  depth: {type: integer, default: 3}",
        "agents:",
    ]
    lines += [
        f'  {a}: {{memory_blocks: [{{label: persona, value: "I am the {a}."}}]}}' for a in AGENTS
    ]
    lines.append("steps:")
    previous: list[str] = []
    made = 0
    while made < steps:
        hub = f"h{made}"
        reads = (
            " ".join(f"{{{{ steps.{p}.output | trim }}}}" for p in previous) or "{{ inputs.topic }}"
        )
        lines.append(
            f'  {hub}: {{agent: planner, prompt: "Plan {made} of {{{{ inputs.topic }}}}: {reads}"}}'
        )
        made += 1
        workers = []
        for i in range(min(width, steps - made)):
            name = f"w{made}"
            extra = ""
            if i % 3 == 0:
                extra += f', when: "{{{{ steps.{hub}.ran and inputs.depth > {i % 5} }}}}"'
            if i % 4 == 0:
                extra += ", " + JSON
            lines.append(
                f'  {name}: {{agent: {AGENTS[1 + i % 3]}, prompt: "Task {made}: '
                f'{{{{ steps.{hub}.output }}}} at {{{{ inputs.depth }}}}"{extra}}}'
            )
            workers.append(name)
            made += 1
        previous = workers
    lines.append("outputs:")
    lines += [f'  result: "{" ".join(f"{{{{ steps.{p}.output }}}}" for p in previous)}"']
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(pipeline_text(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
