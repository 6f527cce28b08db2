"""A planted corpus: secrets and personal data in every kind of file the audit reads.

The values are built from pieces so that this file itself holds none of them whole (secret
scanners watching the repository stay quiet); `PLANTED` lists each whole value, so tests
can grep every output's raw bytes for them.
"""

from __future__ import annotations

from pathlib import Path

OPENAI = "sk-proj-" + "Zx8Kq2Lm9Wv4Rt6Yp1Nc3Bd5"
ANTHROPIC = "sk-ant-" + "api03-Qw7Er8Ty9Ui0Op1As2Df3Gh4"
GITHUB = "ghp_" + "1234567890abcdefghijABCDEFGHIJ123456"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijKLMNOP"
AWS = "AKIA" + "QX7TZ2LW9MR4KD8B"
SLACK = "xoxb-" + "123456789012-abcdefABCDEF"
GOOGLE = "AIza" + "SyD9x8w7v6u5t4s3r2q1p0onmlkjihgfedc"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
JWT = (
    "eyJ"
    + "hbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PASSWORD = "Hunter2" + "Secret"
URL = f"postgres://admin:{PASSWORD}@db.internal:5432/app"
ENTROPIC = "Kx9vQ2mZ7pL4wR8t" + "Y1nB6cJ3hF5dG0sA"
EMAIL = "jane.doe" + "@acme-corp.com"
PHONE_INTL = "+44 20 " + "7946 0958"
PHONE_US = "(415) " + "555-0132"
CARD = "4111 1111 " + "1111 1111"
CARD_BAD_LUHN = "4111 1111 " + "1111 1112"
SSN = "123-45-" + "6789"
NINO = "AB 12 34 " + "56 C"
KEY_BLOCK = "-----BEGIN RSA " + "PRIVATE KEY-----"

PLANTED = [
    OPENAI,
    ANTHROPIC,
    GITHUB,
    GITHUB_PAT,
    AWS,
    SLACK,
    GOOGLE,
    STRIPE,
    JWT,
    PASSWORD,
    ENTROPIC,
    EMAIL,
    PHONE_INTL,
    PHONE_US,
    CARD,
    SSN,
    NINO,
    # the parts past the public prefix, which a finding must not show either
    OPENAI[3:],
    ANTHROPIC[7:],
    GITHUB[4:],
    AWS[4:],
    STRIPE[8:],
    JWT[3:],
]


def plant(root: Path) -> Path:
    """Write the corpus under `root`; returns the resource directory."""
    res = root / "agents"
    (res / "prompts").mkdir(parents=True)
    (res / "tools").mkdir()
    (res / "docs").mkdir()
    (res / "blocks").mkdir()
    (res / "agent.yaml").write_text(
        "apiVersion: orchestrate/v1\n"
        "kind: Agent\n"
        "name: helper\n"
        "system_file: prompts/system.md\n"
        "memory_blocks:\n"
        "  - label: persona\n"
        f'    value: "Call {PHONE_US} or write to {EMAIL}"\n'
        "  - label: notes\n"
        "    value_file: blocks/notes.txt\n"
        "tool_env:\n"
        "  API_KEY: ${env:API_KEY}\n"
        f"  SLACK: {SLACK}\n"
        "  DB: postgres://app:${env:DB_PASSWORD}@db:5432/app\n"
        f"# old key: {AWS}\n"
        f"  GOOGLE: {GOOGLE}  # audit: ignore[google-api-key]\n"
        "tools: [lookup]\n"
        "folders: [kb]\n"
    )
    (res / "prompts" / "system.md").write_text(
        f"You are helpful.\nUse the key {ANTHROPIC} when asked.\n"
    )
    (res / "blocks" / "notes.txt").write_text(
        f"Customer card {CARD}; not a card: {CARD_BAD_LUHN}.\nSSN {SSN}\n"
    )
    (res / "shared.yaml").write_text(
        "apiVersion: orchestrate/v1\nkind: Tool\nname: lookup\nsource_file: tools/lookup.py\n"
        "---\n"
        "apiVersion: orchestrate/v1\nkind: Folder\nname: kb\nfiles: [docs/*.md]\n"
        "---\n"
        f'apiVersion: orchestrate/v1\nkind: Block\nname: ops\nvalue: "{GITHUB_PAT}"\n'
    )
    (res / "tools" / "lookup.py").write_text(
        "def lookup(q: str) -> str:\n"
        f'    token = "{GITHUB}"\n'
        f'    dsn = "{URL}"\n'
        f'    test_card = "{CARD}"  # audit: ignore[card-number]\n'
        "    return q\n"
    )
    (res / "docs" / "faq.md").write_text(
        f"# FAQ\n\n{KEY_BLOCK}\nMIIEow\n\nOur UK contact: {NINO}, {PHONE_INTL}.\njwt: {JWT}\n"
    )
    (root / "pipeline.yaml").write_text(
        "apiVersion: orchestrate/v1\n"
        "kind: Pipeline\n"
        "metadata: {name: p}\n"
        "agents:\n"
        "  bot:\n"
        f'    system: "Use {OPENAI} and {STRIPE}"\n'
        f"    memory_blocks: [{{label: seed, value: {ENTROPIC}}}]\n"
        "steps:\n"
        '  a: {agent: bot, prompt: "hi ${env:TOKEN}"}\n'
    )
    return res
