"""`orchestrate plan | apply | diff | destroy | export`: agents as code on the command line.

Thin by design: parse options, load the resources, call orchestrator.provision, render, and
return a stable exit code: 0 ok; `diff`: 0 when the server matches, 2 on drift; 1 for user
errors (bad spec, refused memory loss, lock held, stale plan); 3 for bugs.

Must not: hold provisioning logic (orchestrator.provision owns it) or import letta_client.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrator.backends import identity
from orchestrator.backends.admin import AdminBackend
from orchestrator.backends.connect import admin_backend
from orchestrator.cli.common import (
    handle_errors,
    resolve_api_key,
    resolve_base_url,
    server_options,
    state_home,
)
from orchestrator.cli.spec_cmds import ALLOW_PATH_HELP
from orchestrator.errors import ExitCode, OrchestrateError, ProvisionError, SpecError
from orchestrator.provision import DiffOptions, apply, destroy, destroy_plan, plan
from orchestrator.provision.apply_changes import check_memory_loss
from orchestrator.provision.changes import Change, ChangeSet
from orchestrator.provision.defaults import ENV_EMBEDDING, ENV_MODEL, given_defaults
from orchestrator.provision.export import Selection, export_resources
from orchestrator.provision.render import SYMBOLS, VERBS, render_json, render_text
from orchestrator.provision.sources import load_source
from orchestrator.spec.model import ResourceSet


def _check_namespace(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    problem = identity.namespace_problem(value)
    if problem:
        raise click.BadParameter(problem.removeprefix(f"invalid namespace {value!r}: "))
    return value


def _server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The shared --base-url/--api-key, and --namespace."""
    options = [
        click.option(
            "--namespace",
            default=identity.DEFAULT_NAMESPACE,
            show_default=True,
            callback=_check_namespace,
            help="Identity namespace: applies in different namespaces never touch "
            "each other's objects (letters, digits, '.', '_', '-').",
        ),
    ]
    return server_options(functools.reduce(lambda f, opt: opt(f), reversed(options), fn))


def _plan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("source"),
        click.option(
            "--prune",
            is_flag=True,
            help="Also delete managed objects of this namespace that SOURCE no longer declares.",
        ),
        click.option(
            "--adopt",
            is_flag=True,
            help="Start managing an existing unmanaged agent "
            "(or folder) of the same name instead of creating a new one.",
        ),
        click.option(
            "--force-agent-owned",
            is_flag=True,
            help="Overwrite the values of "
            "agent_owned blocks with the YAML (replaces what agents wrote).",
        ),
        _keep_blocks_option,
        click.option(
            "--default-model",
            help=f"Model for agents that declare none "
            f"(default: {ENV_MODEL}, else the embedded stack's model).",
        ),
        click.option(
            "--default-embedding",
            help=f"Embedding for agents/folders that declare "
            f"none (default: {ENV_EMBEDDING}, else the embedded stack's).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        _allow_path_option,
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), _server_options(fn))


_keep_blocks_option = click.option(
    "--keep-blocks",
    is_flag=True,
    help="Deleting an agent "
    "keeps its private blocks on the server, detached (by "
    "default they are deleted with it).",
)
_allow_path_option = click.option(
    "--allow-path", "allowed", multiple=True, metavar="DIR", help=ALLOW_PATH_HELP
)


def _json_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """With --json, a command that fails (bad spec, no server, a bug) still prints one JSON
    document, {"error": ..., "issues": [...]}; the error is re-raised for the usual message
    on stderr and exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if kwargs.get("as_json"):
                issues = exc.issues if isinstance(exc, SpecError) else ()
                message = (
                    str(exc)
                    if isinstance(exc, OrchestrateError)
                    else getattr(exc, "message", None) or f"unexpected {type(exc).__name__}: {exc}"
                )
                click.echo(
                    json.dumps(
                        {"error": message, "issues": [i.to_dict() for i in issues]}, indent=2
                    )
                )
            raise

    return wrapper


def _stack_handles(base_url: str) -> tuple[str | None, str] | None:
    from orchestrator.server.stack import handles_at  # only when a default is still missing

    return handles_at(base_url, state_home())


def _setup(
    source: str,
    base_url: str | None,
    api_key: str | None,
    namespace: str,
    allowed: tuple[str, ...] = (),
    **flags: Any,
) -> tuple[ResourceSet, AdminBackend, DiffOptions]:
    resources = load_source(source, allowed)  # spec problems need no server
    url = resolve_base_url(base_url)
    model, embedding = given_defaults(
        url,
        flags.pop("default_model", None),
        flags.pop("default_embedding", None),
        stack=_stack_handles,
    )
    options = DiffOptions(
        namespace=namespace, default_model=model, default_embedding=embedding, **flags
    )
    return resources, admin_backend(url, resolve_api_key(api_key)), options


def _show(changeset: ChangeSet, as_json: bool, title: str = "Plan", allowed: bool = False) -> None:
    click.echo(
        render_json(changeset)
        if as_json
        else render_text(changeset, title=title, memory_loss_allowed=allowed)
    )


def _progress(as_json: bool) -> Callable[[Change], None]:
    def report(change: Change) -> None:
        if not as_json:
            click.echo(f"  {SYMBOLS[change.action]} {VERBS[change.action]} {change.address}: done")

    return report


def _confirm(changeset: ChangeSet, yes: bool, question: str) -> None:
    if yes or changeset.empty:
        return
    if not sys.stdin.isatty():
        raise ProvisionError("not a terminal: pass --yes to apply without confirmation")
    if not click.confirm(question, default=False):
        raise ProvisionError("cancelled: nothing was changed")


@click.command("plan")
@_plan_options
@handle_errors
@_json_errors
def plan_cmd(
    source: str,
    base_url: str | None,
    api_key: str | None,
    namespace: str,
    as_json: bool,
    **flags: Any,
) -> int:
    """Show what apply would change on the server for SOURCE (a resource directory, an
    Agent file, or a pipeline whose agents `ref:` provisioned agents). Changes nothing."""
    resources, backend, options = _setup(source, base_url, api_key, namespace, **flags)
    _show(plan(resources, backend, options), as_json)
    return ExitCode.OK


@click.command("diff")
@_plan_options
@handle_errors
@_json_errors
def diff_cmd(
    source: str,
    base_url: str | None,
    api_key: str | None,
    namespace: str,
    as_json: bool,
    **flags: Any,
) -> int:
    """Exit 0 when the server matches SOURCE, 2 on drift (for CI and cron), 1 on error."""
    resources, backend, options = _setup(
        source, base_url, api_key, namespace, report_only=True, **flags
    )
    changeset = plan(resources, backend, options)
    _show(changeset, as_json, title="Drift")
    return ExitCode.OK if changeset.empty else ExitCode.DRIFT


@click.command("apply")
@_plan_options
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option(
    "--allow-memory-loss",
    is_flag=True,
    help="Accept changes that destroy memory "
    "(deleting agents with archival passages, folders, agent-owned shared blocks).",
)
@handle_errors
@_json_errors
def apply_cmd(
    source: str,
    base_url: str | None,
    api_key: str | None,
    namespace: str,
    as_json: bool,
    yes: bool,
    allow_memory_loss: bool,
    **flags: Any,
) -> int:
    """Make the server match SOURCE. Idempotent: a second apply changes nothing."""
    resources, backend, options = _setup(source, base_url, api_key, namespace, **flags)
    shown = plan(resources, backend, options)
    if not as_json:  # JSON output is one document, written once the apply is done
        _show(shown, as_json, allowed=allow_memory_loss)
    check_memory_loss(shown, allow_memory_loss)  # refuse before asking anything
    _confirm(shown, yes, "Apply these changes?")
    result = apply(
        shown,
        resources,
        backend,
        options,
        lock_dir=state_home() / "locks",
        allow_memory_loss=allow_memory_loss,
        progress=_progress(as_json),
    )
    if as_json:
        click.echo(
            json.dumps(
                {"plan": shown.to_dict(), "applied": len(result.applied)},
                indent=2,
                sort_keys=True,
                default=str,
            )
        )
    elif not shown.empty:
        click.echo(f"Applied {len(result.applied)} change(s).")
    return ExitCode.OK


@click.command("destroy")
@click.argument("source")
@_server_options
@click.option("--yes", "-y", is_flag=True, help="Destroy without asking.")
@click.option(
    "--allow-memory-loss",
    is_flag=True,
    help="Also delete agents with archival passages, folders and agent-owned shared blocks.",
)
@_keep_blocks_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_allow_path_option
@handle_errors
@_json_errors
def destroy_cmd(
    source: str,
    base_url: str | None,
    api_key: str | None,
    namespace: str,
    yes: bool,
    allow_memory_loss: bool,
    keep_blocks: bool,
    as_json: bool,
    allowed: tuple[str, ...],
) -> int:
    """Delete from the server what SOURCE manages (nothing else): its agents with their
    private blocks, shared blocks, folders and tools."""
    resources, backend, options = _setup(
        source, base_url, api_key, namespace, allowed, keep_blocks=keep_blocks
    )
    shown = destroy_plan(resources, backend, options)
    _show(shown, as_json, title="Destroy", allowed=allow_memory_loss)
    check_memory_loss(shown, allow_memory_loss, "destroy")
    _confirm(shown, yes, "Destroy these objects?")
    result = destroy(
        shown,
        resources,
        backend,
        options,
        lock_dir=state_home() / "locks",
        allow_memory_loss=allow_memory_loss,
        progress=_progress(as_json),
    )
    if not as_json and not shown.empty:
        click.echo(f"Destroyed {len(result.applied)} object(s).")
    return ExitCode.OK


@click.command("export")
@click.argument("names", nargs=-1)
@_server_options
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Every agent (unmanaged ones and this namespace's managed ones).",
)
@click.option("--match", multiple=True, help="Agents whose name matches this glob (repeatable).")
@click.option("--tag", multiple=True, help="Agents carrying this tag (repeatable).")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write the resource files (or .af files) to.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["yaml", "af"]),
    default="yaml",
    show_default=True,
    help="yaml: resource files for plan/apply; af: one Letta agent "
    "file per agent (blocks, tools, messages), for `orchestrate import`.",
)
@click.option(
    "--redact-env",
    multiple=True,
    metavar="VAR",
    help="With --format af: also replace this variable's value wherever it appears (repeatable).",
)
@handle_errors
def export_cmd(
    names: tuple[str, ...],
    base_url: str | None,
    api_key: str | None,
    namespace: str,
    all_: bool,
    match: tuple[str, ...],
    tag: tuple[str, ...],
    out: str,
    format_: str,
    redact_env: tuple[str, ...],
) -> int:
    """Write YAML (and tool sources, folder files) for agents that exist on a server, so
    `apply` right after is a no-op. Unmanaged agents are adopted by `apply --adopt`.
    With --format af, write Letta agent files instead (secret values left out)."""
    backend = admin_backend(resolve_base_url(base_url), resolve_api_key(api_key))
    selection = Selection(all_, names, match, tag)
    if format_ == "af":
        from orchestrator.provision.agentfile import export_agent_files

        report = export_agent_files(
            backend, selection, Path(out), namespace, os.environ, redact_env
        )
    else:
        report = export_resources(backend, selection, Path(out), namespace, os.environ)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"Exported {len(report.agents)} agent(s) to {out}: {', '.join(report.agents)}")
    return ExitCode.OK
