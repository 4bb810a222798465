"""Normalising user input before anything else looks at it."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, no control or invisible formatting characters, single spaces."""
    if text.isascii() and text.isprintable() and "  " not in text:
        return text.strip()  # the common case, kept cheap
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\ufffd", " ")
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()
