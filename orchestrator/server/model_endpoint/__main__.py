"""Command line of the local model endpoint: `python -m orchestrator.server.model_endpoint`.

Owns argument parsing and the serve loop only. The script comes from --script or the
ORCHESTRATE_MODEL_SCRIPT environment variable (YAML or JSON file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from orchestrator.home import is_state_dir

from .http_server import DEFAULT_MODEL_ID, ModelEndpoint, make_server
from .script import Script, ScriptError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.server.model_endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8284)
    parser.add_argument(
        "--script",
        default=os.environ.get("ORCHESTRATE_MODEL_SCRIPT") or None,
        help="YAML/JSON rules file (default: $ORCHESTRATE_MODEL_SCRIPT)",
    )
    parser.add_argument(
        "--delay", type=float, default=0.0, help="fixed latency per chat request, seconds"
    )
    parser.add_argument(
        "--model-id", default=DEFAULT_MODEL_ID, help="the model id listed at /v1/models"
    )
    parser.add_argument(
        "--admin-token-file",
        default=None,
        help="the /_admin routes answer only callers sending this file's token (Bearer)",
    )
    args = parser.parse_args(argv)
    try:
        token = Path(args.admin_token_file).read_text().strip() if args.admin_token_file else None
    except OSError as exc:
        print(f"model endpoint: cannot read {args.admin_token_file}: {exc}", file=sys.stderr)
        return 1
    try:
        script = Script.from_text(Path(args.script).read_text()) if args.script else Script()
    except (OSError, ScriptError, ValueError) as exc:
        print(f"model endpoint: cannot load script {args.script}: {exc}", file=sys.stderr)
        return 1
    # `server start` launches it in its state dir: that is the stack it reports at /health.
    cwd = Path.cwd()
    home = str(cwd) if is_state_dir(cwd) else None
    endpoint = ModelEndpoint(
        script, delay=args.delay, model_id=args.model_id, home=home, admin_token=token or None
    )
    try:
        server = make_server(endpoint, args.host, args.port)
    except OSError as exc:
        print(f"model endpoint: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"model endpoint: serving {args.model_id} on http://{args.host}:{server.server_port}/v1"
        f" ({len(script.rules)} scripted rules, delay {args.delay}s)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
