"""Which words are sensitive: they are kept as ``sensitive`` memories and never leave the machine.

A rule set, not a model: credentials (PINs, passwords, keys), financial and
government identifiers, card numbers (Luhn-checked), and health details. A
false positive keeps a turn local (cheap); a false negative could send a secret
to a remote model, so the words lean wide. The router reads the result for the
user's own words and for every recalled memory (DESIGN.md §7: sensitive
memories never go remote).
"""

from __future__ import annotations

import re
from typing import Final

_WORDS: Final = re.compile(
    r"\b("
    r"pin|pins|pin code|passcode|password|passwords|passphrase|pass phrase|api key|secret key|private key|"
    r"seed phrase|recovery phrase|recovery code|2fa|otp|security question|"
    r"social security|ssn|national insurance|tax id|tax number|passport number|passport no|"
    r"driver'?s licen[cs]e number|licen[cs]e number|"
    r"bank account|account number|routing number|sort code|iban|swift code|credit card|debit card|"
    r"card number|cvv|cvc|expiry date|"
    r"diagnos\w*|prescri\w*|medication|medicine|therapy|therapist|psychiatri\w*|hiv|std|pregnan\w*|"
    r"blood type|allerg\w*|disorder|depression|anxiety|chemotherapy|cancer"
    r")\b",
    re.IGNORECASE,
)
_HEALTH_STEMS: Final = ("diagnos", "prescri", "medic", "therap", "psychiatr", "pregnan", "allerg")
_HEALTH_WORDS: Final = frozenset(
    ("hiv", "std", "blood type", "disorder", "depression", "anxiety", "chemotherapy", "cancer")
)
_DIGITS: Final = re.compile(r"(?:\d[ -]?){13,19}")
_TOKEN: Final = re.compile(r"\b(?:sk|pk|rk|ghp|gho|xox[abp])[-_][A-Za-z0-9_-]{8,}")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def sensitive_reason(text: str) -> str:
    """Why ``text`` is sensitive ("" when it is not): a short phrase for the route reason.

    The phrase names the kind ("a password", "a card number"), never the matched words.
    """
    match = _WORDS.search(text)
    if match is not None:
        word = match.group(1).lower()
        if word.startswith(_HEALTH_STEMS) or word in _HEALTH_WORDS:
            return "health details"
        return "a credential or an identifier"
    for candidate in _DIGITS.findall(text):
        digits = re.sub(r"\D", "", candidate)
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return "a card number"
    if _TOKEN.search(text):
        return "a key or token"
    return ""


def is_sensitive(text: str) -> bool:
    """True when ``text`` holds a credential, an identifier, a card number or health details."""
    return bool(sensitive_reason(text))
