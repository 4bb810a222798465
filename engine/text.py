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


_QUESTION = re.compile(r"\?\s*$|^(?:what|which|who|whom|whose|when|where|why|how|is|are|do|does|"
                       r"can|could|would|will|should)\b", re.IGNORECASE)
# Polite requests look like questions but ask for something to be done.
_REQUEST = re.compile(r"^(?:please\b|(?:can|could|would|will|may) (?:you|i|we)\b|"
                      r"do you (?:have|sell|stock)\b|have you got\b|is there any\b)",
                      re.IGNORECASE)


def is_question(text: str) -> bool:
    return _QUESTION.search(text) is not None


def is_information_question(text: str) -> bool:
    """A question that wants an answer ("is it good for camping?"), not a request put
    as a question ("can I try it on Friday?", "do you have any convertibles?")."""
    return is_question(text) and _REQUEST.search(text) is None
