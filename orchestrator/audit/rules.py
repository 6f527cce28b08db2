"""The audit's rules: what a secret or a piece of personal data looks like in text.

Owns: every rule (its name, kind, label, pattern and the check that confirms a match: Luhn
for card numbers, entropy for unnamed secrets, the reserved ranges of a US SSN), the
public prefix a finding may show (the part of a key format that is the same for everyone,
e.g. `sk-ant-`), and the order in which overlapping matches are decided (a named format
beats the entropy rule; a URL password beats the e-mail it looks like).

Must not: read files, know where text came from, or keep a matched value beyond the
`Hit` it returns (callers must never print `Hit.value`).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

SECRET = "secret"
PERSONAL = "personal data"

# The entropy rule: a run of at least ENTROPY_MIN_LENGTH characters of [A-Za-z0-9+_=-]
# holding a letter and a digit, whose Shannon entropy is at least ENTROPY_THRESHOLD bits
# per character. Random base64/base62 of that length scores ~4.4-4.9; English words,
# identifiers and hex (at most 4.0: git SHAs, digests) stay below it.
ENTROPY_MIN_LENGTH = 24
ENTROPY_THRESHOLD = 4.2
# Reserved for documentation (RFC 2606 / 6761): an address there is nobody's.
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
RESERVED_TLDS = (".example", ".test", ".invalid", ".localhost")


@dataclass(frozen=True)
class Hit:
    """One match of a rule in a text: offsets, never to be printed with its value."""

    rule: str
    start: int
    end: int
    value: str = field(repr=False)


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    label: str
    pattern: re.Pattern[str]
    prefix: str = ""  # the public prefix a finding may show, masked after it
    confirm: Callable[[re.Match[str]], bool] = lambda _m: True
    group: int = 0  # the part of the match that is the secret (a URL's password)

    def mask(self, value: str) -> str:
        if not self.prefix:
            return ""
        for prefix in self.prefix.split("|"):
            if value.startswith(prefix):
                return f"{prefix}…"
        return ""


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6(?:011|5)|35")


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"[ -]", "", match.group(0))
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_ok(digits)


def entropy(text: str) -> float:
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _high_entropy(match: re.Match[str]) -> bool:
    token = match.group(0)
    return (
        any(c.isdigit() for c in token)
        and any(c.isalpha() for c in token)
        and entropy(token) >= ENTROPY_THRESHOLD
    )


def _email(match: re.Match[str]) -> bool:
    domain = match.group(1).lower()
    return not (
        domain in RESERVED_DOMAINS
        or domain.endswith(RESERVED_TLDS)
        or any(domain.endswith("." + d) for d in RESERVED_DOMAINS)
    )


def _phone(match: re.Match[str]) -> bool:
    return 8 <= sum(c.isdigit() for c in match.group(0)) <= 15


def _not_env_ref(match: re.Match[str]) -> bool:
    return not match.group(1).startswith("${env:")


_NINO_BAD = ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")


def _nino(match: re.Match[str]) -> bool:
    return match.group(0)[:2] not in _NINO_BAD


def _rule(name: str, kind: str, label: str, pattern: str, **extra: object) -> Rule:
    return Rule(name, kind, label, re.compile(pattern), **extra)  # type: ignore[arg-type]


# In precedence order: an earlier rule's match wins over a later one it overlaps.
RULES: tuple[Rule, ...] = (
    _rule(
        "private-key",
        SECRET,
        "private key block",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        prefix="-----BEGIN",
    ),
    _rule(
        "anthropic-key", SECRET, "Anthropic API key", r"sk-ant-[A-Za-z0-9_-]{20,}", prefix="sk-ant-"
    ),
    _rule(
        "stripe-key",
        SECRET,
        "Stripe live key",
        r"(?:sk|rk)_live_[0-9A-Za-z]{16,}",
        prefix="sk_live_|rk_live_",
    ),
    _rule("openai-key", SECRET, "OpenAI API key", r"sk-(?!ant-)[A-Za-z0-9_-]{20,}", prefix="sk-"),
    _rule(
        "github-token",
        SECRET,
        "GitHub token",
        r"\bgh[pousr]_[A-Za-z0-9]{36,}|\bgithub_pat_[A-Za-z0-9_]{22,}",
        prefix="github_pat_|ghp_|gho_|ghu_|ghs_|ghr_",
    ),
    _rule(
        "aws-access-key",
        SECRET,
        "AWS access key id",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        prefix="AKIA|ASIA",
    ),
    _rule(
        "slack-token",
        SECRET,
        "Slack token",
        r"\bxox[bpas]-[A-Za-z0-9-]{10,}",
        prefix="xoxb-|xoxp-|xoxa-|xoxs-",
    ),
    _rule("google-api-key", SECRET, "Google API key", r"\bAIza[0-9A-Za-z_-]{35}", prefix="AIza"),
    _rule(
        "jwt",
        SECRET,
        "JSON Web Token",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        prefix="eyJ",
    ),
    _rule(
        "url-password",
        SECRET,
        "password in a URL",
        r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]+:(\$\{env:[^}]*\}|[^\s/@'\"]+)@",
        confirm=_not_env_ref,
        group=1,
    ),
    _rule(
        "card-number",
        PERSONAL,
        "payment card number",
        r"(?<![\d-])(?:\d[ -]?){12,18}\d(?!\d)",
        confirm=_card,
    ),
    _rule(
        "us-ssn",
        PERSONAL,
        "US social security number",
        r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])",
    ),
    _rule(
        "uk-nino",
        PERSONAL,
        "UK national insurance number",
        r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        confirm=_nino,
    ),
    _rule(
        "email",
        PERSONAL,
        "e-mail address",
        r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b",
        confirm=_email,
    ),
    _rule(
        "phone",
        PERSONAL,
        "phone number",
        r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{2,4}){2,5}(?![\w-])"
        r"|(?<![\w-])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w-])",
        confirm=_phone,
    ),
    _rule(
        "high-entropy",
        SECRET,
        "high-entropy string",
        rf"(?<![A-Za-z0-9+_=-])[A-Za-z0-9+_=-]{{{ENTROPY_MIN_LENGTH},}}(?![A-Za-z0-9+_=-])",
        confirm=_high_entropy,
    ),
)
BY_NAME = {rule.name: rule for rule in RULES}


def hits(text: str) -> Iterator[Hit]:
    """Every rule's confirmed matches in `text`, overlaps decided by precedence, in order."""
    taken: list[tuple[int, int]] = []  # sorted, never overlapping: one bisect per match
    found: list[Hit] = []
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            start, end = match.span()
            before = bisect.bisect_left(taken, (end, end)) - 1
            if before >= 0 and taken[before][1] > start or not rule.confirm(match):
                continue
            bisect.insort(taken, (start, end))
            found.append(Hit(rule.name, start, end, match.group(rule.group)))
    yield from sorted(found, key=lambda h: (h.start, h.rule))
