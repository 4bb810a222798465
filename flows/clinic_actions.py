"""Python actions for flows/clinic.yaml, named in the flow as `clinic_actions.FUNCTION`.

An action receives a copy of the session's slots and the flow's data tables and
returns a dict of slot values to set (or None).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from typing import Any

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Two letters per specialty, so references read like "DE-4821" and match the
# `reference` slot's pattern ([A-Z]{2}-\d{4}) when the patient quotes them later.
_PREFIXES = {
    "general practice": "GP",
    "dermatology": "DE",
    "pediatrics": "PE",
    "cardiology": "CA",
    "orthopedics": "OR",
    "gynecology": "GY",
}


def working_days(slots: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The weekday of the chosen date, and the days the candidate doctors work.

    `weekday` lets a lookup's `where` test `slots.weekday in days`; `open_days`
    (in week order) lets the flow suggest another day when nobody works that one.
    """
    weekday = None
    date = slots.get("date")
    if isinstance(date, str):
        try:
            weekday = WEEKDAYS[datetime.date.fromisoformat(date).weekday()]
        except ValueError:
            weekday = None
    worked = {day for doctor in slots.get("specialists") or () for day in doctor.get("days", ())}
    return {"weekday": weekday, "open_days": [day for day in WEEKDAYS if day in worked]}


def booking_reference(slots: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """A stable reference for a booking: the same booking always gets the same code."""
    doctor = slots.get("doctor") or {}
    key = "|".join(str(part) for part in (
        doctor.get("id"), slots.get("date"), slots.get("name"), slots.get("phone")))
    number = int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 10_000
    prefix = _PREFIXES.get(str(slots.get("specialty")), "RC")
    return {"booking_ref": f"{prefix}-{number:04d}"}
