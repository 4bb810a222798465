"""What the parts of a turn share: the state of one Dialogue and its basic steps.

Dialogue (engine/dialogue.py) is assembled from parts that each hold one
concept (slot filling in engine/filling.py, asking the model in
engine/asking.py). They read and change the same turn state; this base
declares it once, so each part type-checks on its own. Dialogue provides every
step declared here.
"""

from __future__ import annotations

import datetime
from typing import Any

from engine.flow import Flow, Response, Slot
from engine.llm.chat import TokenSink
from engine.parts import Parts
from engine.replies import Reply
from engine.routing import Match
from engine.session import Session


class TurnState:
    parts: Parts
    flow: Flow
    session: Session
    text: str
    replies: list[Reply]
    events: list[dict[str, Any]]
    route: str
    confidence: float
    llm: dict[str, Any] | None
    on_token: TokenSink | None

    @property
    def today(self) -> datetime.date:
        raise NotImplementedError

    def say(self, response: Response | None, extra: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    def _why(self, template: str, *args: Any) -> None:
        raise NotImplementedError

    def _error(self, message: str) -> None:
        raise NotImplementedError

    def _context(self) -> dict[str, Any]:
        raise NotImplementedError

    def _arrive(self, name: str) -> None:
        raise NotImplementedError

    def _settle(self) -> None:
        raise NotImplementedError

    def _remember(self, state: str) -> None:
        raise NotImplementedError

    def _fallback_response(self) -> Response:
        raise NotImplementedError

    def _reask(self) -> None:
        raise NotImplementedError

    def _take_intent(self, match: Match) -> None:
        raise NotImplementedError

    def _set_slot(self, slot: Slot, value: Any, how: str) -> bool:
        raise NotImplementedError
