"""A tiny MCP server for the tests (stdio by default, `--http PORT` for streamable HTTP).

Run by Letta's own Python (its venv has the `mcp` SDK). `lookup_order` answers from a fixed
table; `shout` echoes its text in capitals, and says whether the env secret reached it.
"""

import os
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("tiny")

ORDERS = {"A-1": "shipped", "B-2": "awaiting payment"}


@server.tool()
def lookup_order(order_id: str) -> str:
    """Look up the status of an order by its id."""
    return f"order {order_id}: {ORDERS.get(order_id, 'unknown')}"


@server.tool()
def shout(text: str) -> str:
    """Repeat the text in capital letters."""
    keyed = "with key" if os.environ.get("TINY_KEY") else "without key"
    return f"{text.upper()} ({keyed})"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--http":
        server.settings.port = int(sys.argv[2])
        server.run("streamable-http")
    else:
        server.run("stdio")
