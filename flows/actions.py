"""Python actions for flows/cars.yaml, named in the flow as `actions.FUNCTION`.

An action receives a copy of the session's slots and the flow's data tables and
returns a dict of slot values to set (or None).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def booking_reference(slots: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """A stable reference for a test drive booking: the same booking, the same code."""
    key = f"{slots.get('model')}|{slots.get('date')}|{slots.get('name')}|{slots.get('phone')}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:6].upper()
    return {"reference": f"TD-{digest}"}
