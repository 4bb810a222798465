"""Keeping API keys out of everything flowbot writes: traces, errors, cassettes.

A key can reach a message in ways we do not control (a server echoing a bad
key in its error, a user pasting one), so every text that leaves the LLM layer
passes through `redact`: the known secrets, and anything shaped like an
OpenAI key, become "[redacted]".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_KEY_SHAPE = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _KEY_SHAPE.sub(REDACTED, text)
