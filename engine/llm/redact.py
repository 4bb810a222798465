"""Keeping API keys out of everything flowbot writes: traces, errors, cassettes.

A key can reach a message in ways we do not control (a server echoing a bad
key in its error, a model repeating one, credentials in a base URL), so every
text that leaves the LLM layer passes through `redact`: the known secrets,
`user:password@` in URLs, and anything shaped like an OpenAI key become
"[redacted]".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# Shaped like an OpenAI key; not glued to a word before it, so "risk-assessment" survives.
KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{8,}")
_URL_CREDENTIALS = re.compile(r"(?<=//)[^/@\s]+@")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    # One pattern, longest secret first: a secret that contains another is replaced
    # whole, and an inserted "[redacted]" is never matched again.
    named = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
    if named:
        text = re.sub("|".join(map(re.escape, named)), REDACTED, text)
    text = _URL_CREDENTIALS.sub(REDACTED + "@", text)
    return KEY_SHAPE.sub(REDACTED, text)
