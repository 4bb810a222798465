"""TurnResult: what one turn did and why, in a shape tests and JSON can use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.flow import Transition
from engine.replies import Reply


@dataclass
class TurnResult:
    user: str | None
    replies: list[Reply]
    state: str
    slots: dict[str, Any]
    intent: str | None = None
    route: str = "fallback"
    confidence: float = 0.0
    actions: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    steps: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list, repr=False)
    notices: list[str] = field(default_factory=list)
    llm: dict[str, Any] | None = None
    ended: bool = False
    # For test coverage: the states entered and the flow transitions fired, in order.
    visited: list[str] = field(default_factory=list, repr=False)
    fired: list[Transition] = field(default_factory=list, repr=False)

    @property
    def trace(self) -> list[str]:
        """Why the turn went where it went, step by step."""
        return [template.format(*args) for template, args in self.steps]

    @property
    def texts(self) -> list[str]:
        return [reply.text for reply in self.replies]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": self.user,
            "replies": [reply.to_dict() for reply in self.replies],
            "state": self.state,
            "slots": self.slots,
            "intent": self.intent,
            "route": self.route,
            "confidence": self.confidence,
            "actions": self.actions,
            "events": self.events,
            "ended": self.ended,
        }
        if self.llm is not None:
            data["llm"] = self.llm
        if self.notices:
            data["notices"] = self.notices
        return data
