"""The `stats --server` document and table from given listings (run.server_stats)."""

from __future__ import annotations

from orchestrator.backends.letta_usage import AgentUsage, BlockUsage, Count
from orchestrator.run.server_stats import server_doc, server_text


def _agent(name, **kw):
    base = dict(
        name=name,
        agent_id=f"agent-{name}",
        model="m",
        messages=Count(10),
        passages=Count(0),
        runs=Count(4),
        failed_runs=1,
        run_seconds=(1.0, 2.0, 3.0, 4.0),
        prompt_tokens=100,
        completion_tokens=10,
        blocks=(BlockUsage("persona", 50, 100),),
        tools={},
        last_activity=0.0,
    )
    return AgentUsage(**{**base, **kw})


def test_tools_are_ranked_over_agents_and_full_blocks_warned():
    doc = server_doc(
        "http://s",
        "ns",
        [
            _agent(
                "a",
                tools={"search": 3, "note": 1},
                blocks=(BlockUsage("log", 90, 100), BlockUsage("free", 5, None)),
            ),
            _agent("b", tools={"note": 4}, messages=Count(1000, capped=True)),
        ],
    )
    assert doc["tools"] == [
        {"tool": "note", "calls": 5, "agents": ["a", "b"]},
        {"tool": "search", "calls": 3, "agents": ["a"]},
    ]
    assert doc["warnings"] == [
        "agent a: block 'log' holds 90 of its 100 characters (90%): near its limit"
    ]
    a = doc["agents"][0]
    assert (a["run_p50_s"], a["tokens"], a["last_activity"]) == (
        2.0,
        110,  # nearest rank, as stats does
        "1970-01-01T00:00:00+00:00",
    )
    text = server_text(doc)
    assert ">=1000" in text and "note" in text and "log                   90 / 100 (90%)" in text
    assert "free                   5 / -" in text


def test_no_agents_says_how_to_have_some():
    text = server_text(server_doc("http://s", "team", []))
    assert "0 managed agent(s)" in text and "--namespace team" in text
