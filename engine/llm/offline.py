"""The provider used when no model is configured: no network, fully deterministic.

Open-ended turns get the best knowledge answer the turn found, if any is close
enough; otherwise an empty outcome, so the state's fallback text is said.
"""

from __future__ import annotations

from engine.llm.base import ModelOutcome, ModelRequest
from engine.llm.chat import TokenSink


class OfflineProvider:
    name = "offline"
    model: str | None = None

    def __init__(self, min_score: float = 0.65, reason: str = "no OPENAI_API_KEY is set",
                 hint: str = "Set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server) "
                             "to turn it on.") -> None:
        self.min_score = min_score
        self.off_reason = reason
        self.how_to_enable = hint

    @property
    def enabled(self) -> bool:
        return False

    def describe(self) -> str:
        return f"LLM: off ({self.off_reason})"

    def respond(self, request: ModelRequest, on_token: TokenSink | None = None) -> ModelOutcome:
        best = max(request.knowledge, key=lambda k: k.score, default=None)
        if best is None or best.score < self.min_score:
            return ModelOutcome(provider=self.name)
        return ModelOutcome(provider=self.name, text=best.answer, source="knowledge")
