"""The provider protocol the turn talks to, and the requests it sends.

A provider gets everything the turn knows that matters for an open-ended
answer (system prompt, the state's prompt, knowledge snippets, recent history,
the message) and may decline by returning None: the turn then falls back to the
state's fallback reply. Providers never change session state themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class KnowledgeSnippet:
    id: str
    question: str
    answer: str
    score: float


@dataclass(frozen=True)
class ReplyRequest:
    flow: str
    state: str
    user: str
    system: str | None = None
    state_prompt: str | None = None
    knowledge: tuple[KnowledgeSnippet, ...] = ()
    history: tuple[tuple[str, str], ...] = ()  # (role, text), oldest first
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteRequest:
    flow: str
    state: str
    user: str
    intents: tuple[str, ...]  # only these may be chosen
    slots: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteResult:
    intent: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LLMReply:
    text: str
    provider: str
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    source: str = "llm"  # "llm", or "knowledge" when an offline provider answered from the FAQ
    error: str | None = None


class LLMProvider(Protocol):
    name: str
    model: str | None
    off_reason: str  # why no model answers ("" when one does), for the start notice
    how_to_enable: str

    @property
    def enabled(self) -> bool:
        """False when no real model is reachable (offline): the bot says so once."""
        ...

    def route(self, request: RouteRequest) -> RouteResult | None: ...

    def reply(self, request: ReplyRequest) -> LLMReply | None: ...
