"""Reading one slot's value out of a message, and checking it against the slot's rules.

Pure functions of (slot, text, date): the turn decides when to call them and
what to do with the answer.
"""

from __future__ import annotations

import datetime
from typing import Any

from engine.flow import Slot


def mentioned_at(slot: Slot, text: str, today: datetime.date) -> tuple[Any, int, int] | None:
    """A value found by one of the slot's own `mentions` patterns, with the span of
    text it came from; None if no pattern finds one."""
    for pattern in slot.mentions:
        found = pattern.search(text)
        if found is None:
            continue
        group = 1 if pattern.groups else 0
        if found.group(group) is None:  # an optional group that did not take part
            continue
        value = slot.parser.parse(found.group(group), today)
        if value is not None:
            return value, found.start(group), found.end(group)
    return None


def mentioned(slot: Slot, text: str, today: datetime.date) -> Any:
    found = mentioned_at(slot, text, today)
    return None if found is None else found[0]


def answer(slot: Slot, text: str, today: datetime.date) -> Any:
    """A value from a message that answers this slot's question: read more leniently."""
    value = mentioned(slot, text, today)
    return value if value is not None else slot.parser.parse(text, today)


def invalid_reason(slot: Slot, value: Any, today: datetime.date) -> str | None:
    """Why `value` breaks the slot's rules (min, max, after), or None if it is fine."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if slot.minimum is not None and value < slot.minimum:
            return f"must be at least {slot.minimum:g}"
        if slot.maximum is not None and value > slot.maximum:
            return f"must be at most {slot.maximum:g}"
    if slot.kind == "date" and slot.after is not None and isinstance(value, str):
        earliest = today.isoformat()
        if slot.after == "today" and value < earliest:
            return "must not be in the past"
        if slot.after == "tomorrow" and value <= earliest:
            return "must be tomorrow or later"
    return None
