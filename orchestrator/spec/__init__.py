"""The spec layer: user YAML -> validated, typed, frozen spec objects (see `model`).

Public API: `load_pipeline`, `load_pipeline_text`, `load_resources`. Every problem in a file
is collected and raised at once as `orchestrator.errors.SpecError`.
"""

from orchestrator.spec.pipeline import load_pipeline, load_pipeline_text
from orchestrator.spec.resources import load_resources

__all__ = ["load_pipeline", "load_pipeline_text", "load_resources"]
