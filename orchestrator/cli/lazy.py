"""Commands loaded when they are used, so `orchestrate --version` or `validate` does not pay
for what other commands import (letta-client alone takes about a second to import).

Owns `LazyGroup`: a click group that knows its commands by name and "module:attribute",
and imports a command's module only when that command is looked up (running it, or its
`--help`); `orchestrate --help` lists them all, and so imports them all. (Backends are
made by orchestrator.backends.connect, which imports letta-client only then.)

Must not: import command modules, or letta_client, at import time.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})  # command name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)
