"""The peer side of bench_peers.py: the same no-op pipelines as LangGraph graphs.

Owns `langgraph_chain(n)` / `langgraph_fan_out(n)` (a chain of n nodes; n parallel nodes
and a join) and `time_langgraph(graph, steps, saver)`: the wall time of one `invoke`, in
memory (no checkpointer) or with a SqliteSaver on a file, as LangGraph's users run it
(`SqliteSaver(sqlite3.connect(path))`, its own defaults). Each node does what an
orchestrate step's template does (reads an upstream value and builds a prompt).

Needs the `bench` extra (`pip install -e ".[bench]"`); never imported by the product.
"""

from __future__ import annotations

import operator
import sqlite3
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    value: str
    parts: Annotated[list, operator.add]  # fan-out branches append here concurrently


def langgraph_chain(n: int) -> StateGraph:
    graph = StateGraph(State)
    for i in range(n):
        graph.add_node(f"s{i}", lambda s: {"value": f"next after {s['value'][:40]}"})
    graph.add_edge(START, "s0")
    for i in range(1, n):
        graph.add_edge(f"s{i - 1}", f"s{i}")
    graph.add_edge(f"s{n - 1}", END)
    return graph


def langgraph_fan_out(n: int) -> StateGraph:
    graph = StateGraph(State)
    for i in range(n):
        graph.add_node(f"s{i}", lambda s, i=i: {"parts": [f"part {i} of {s['value']}"]})
        graph.add_edge(START, f"s{i}")
        graph.add_edge(f"s{i}", "join")
    graph.add_node("join", lambda s: {"value": "join " + " ".join(s["parts"])})
    graph.add_edge("join", END)
    return graph


def time_langgraph(graph: StateGraph, steps: int, db: Path | None) -> float:
    """Seconds for one run (building and compiling the graph not counted, as for ours)."""
    saver: Any = None
    if db is not None:
        saver = SqliteSaver(sqlite3.connect(db, check_same_thread=False))
        saver.setup()
    app = graph.compile(checkpointer=saver)
    config = {"recursion_limit": steps + 10, "configurable": {"thread_id": "bench"}}
    began = time.perf_counter()
    app.invoke({"value": "x", "parts": []}, config)
    return time.perf_counter() - began
