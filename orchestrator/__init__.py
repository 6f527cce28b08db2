"""orchestrate: declarative, YAML-driven multi-agent orchestration for Letta."""

__version__ = "0.1.0"
