"""The provider used when no model is configured: no network, fully deterministic.

Open-ended turns get the best knowledge answer the turn found, if any is close
enough; otherwise None, so the state's fallback text is said.
"""

from __future__ import annotations

from engine.llm.base import LLMReply, ReplyRequest, RouteRequest, RouteResult


class OfflineProvider:
    name = "offline"
    model: str | None = None

    def __init__(self, min_score: float = 0.65, reason: str = "no OPENAI_API_KEY is set",
                 hint: str = "Set OPENAI_API_KEY to turn it on.") -> None:
        self.min_score = min_score
        self.off_reason = reason
        self.how_to_enable = hint

    @property
    def enabled(self) -> bool:
        return False

    def route(self, request: RouteRequest) -> RouteResult | None:
        return None

    def reply(self, request: ReplyRequest) -> LLMReply | None:
        best = max(request.knowledge, key=lambda k: k.score, default=None)
        if best is None or best.score < self.min_score:
            return None
        return LLMReply(text=best.answer, provider=self.name, source="knowledge")
