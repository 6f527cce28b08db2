"""Each rule on its own: what it finds, what it must not (Luhn-invalid cards, `${env:...}`,
hex digests, reserved e-mail domains, dates), and what a finding may show."""

from __future__ import annotations

import pytest

from orchestrator.audit.rules import ENTROPY_THRESHOLD, entropy, hits, luhn_ok
from orchestrator.audit.scan import scan_text
from tests.audit import corpus


def _rules(text: str) -> list[str]:
    return [hit.rule for hit in hits(text)]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (corpus.OPENAI, "openai-key"),
        (corpus.ANTHROPIC, "anthropic-key"),
        (corpus.GITHUB, "github-token"),
        (corpus.GITHUB_PAT, "github-token"),
        (corpus.AWS, "aws-access-key"),
        (corpus.SLACK, "slack-token"),
        (corpus.GOOGLE, "google-api-key"),
        (corpus.STRIPE, "stripe-key"),
        (corpus.JWT, "jwt"),
        (corpus.KEY_BLOCK, "private-key"),
        ("-----BEGIN " + "PRIVATE KEY-----", "private-key"),
        (corpus.URL, "url-password"),
        (corpus.ENTROPIC, "high-entropy"),
        (corpus.EMAIL, "email"),
        (corpus.PHONE_INTL, "phone"),
        (corpus.PHONE_US, "phone"),
        ("415-555-0132", "phone"),
        (corpus.CARD, "card-number"),
        ("5555-5555-5555-4444", "card-number"),
        ("378282246310005", "card-number"),
        (corpus.SSN, "us-ssn"),
        (corpus.NINO, "uk-nino"),
        ("CE123456D", "uk-nino"),
    ],
)
def test_each_rule_finds_its_format(text: str, rule: str) -> None:
    assert _rules(f"x: {text} ") == [rule]


@pytest.mark.parametrize(
    "text",
    [
        corpus.CARD_BAD_LUHN,
        "4111111111111112",
        "1234 5678 9012 3456",  # Luhn / no card prefix
        "${env:OPENAI_API_KEY}",
        "postgres://app:${env:DB_PASSWORD}@db:5432/app",
        "https://example.com/path/to/a/page",
        "postgres://localhost:5432/db",
        "3f786850e387550fdab836ed7e6dc881de23001b",  # a git SHA: hex tops out at 4 bits/char
        "orchestrator_audit_rules_module_name_2024",
        "support@example.com",
        "a@b.test",
        "2024-01-31",
        "2024-01-31T12:30:00Z",
        "version 1.2.3456",
        "000-12-3456",
        "123-00-4567",
        "666-12-3456",
        "sk-short",
        "GB123456A",
        "QQ123456C",
        "@dataclass",
        "value: 12345678",
    ],
)
def test_what_is_not_a_finding(text: str) -> None:
    assert _rules(f"x: {text} ") == []


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_entropy_threshold_splits_random_from_words() -> None:
    assert entropy(corpus.ENTROPIC) >= ENTROPY_THRESHOLD
    assert entropy("abcdefabcdef0123456789abcdef0123456789ab") < ENTROPY_THRESHOLD


def test_a_url_password_beats_the_email_it_looks_like() -> None:
    assert _rules("smtp://mailer:s3cr3tPass@mail.acme-corp.com") == ["url-password"]


def test_findings_never_hold_the_value_in_what_they_show() -> None:
    text = f"a: {corpus.OPENAI}\nb: {corpus.SSN}\n"
    findings, _ = scan_text(text, "f.yaml", lambda line, col: "here")
    assert [f.format() for f in findings] == [
        "f.yaml:1:4: secret: here: OpenAI API key 'sk-…' (openai-key)",
        "f.yaml:2:4: personal data: here: US social security number (us-ssn)",
    ]
    for finding in findings:
        shown = finding.format() + repr(finding) + str(finding.as_json())
        assert finding.value and finding.value not in shown


def test_ignore_applies_to_its_own_line_only() -> None:
    text = f"a: {corpus.SSN}  # audit: ignore[us-ssn]\nb: {corpus.SSN}\n"
    findings, ignored = scan_text(text, "f.py", lambda line, col: "")
    assert ([f.line for f in findings], ignored) == ([2], 1)
