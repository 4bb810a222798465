"""The provider protocol the turn talks to, what it sends and what comes back.

When rules, slot answers, examples and the FAQ found nothing, the turn hands
the provider one `ModelRequest`: everything that matters for an answer (system
prompt, the state's prompt, knowledge snippets, recent history, the message)
and, when the state lets the model route, the intents it may choose here. The
provider answers with one `ModelOutcome`: a route, words, or neither (the turn
then says the state's fallback). Providers never change session state; the
turn checks a route again before taking it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.llm.chat import TokenSink


@dataclass(frozen=True)
class KnowledgeSnippet:
    id: str
    question: str
    answer: str
    score: float


@dataclass(frozen=True)
class IntentOption:
    """An intent the model may choose in this state, described for the model."""

    name: str
    description: str = ""
    examples: tuple[str, ...] = ()
    slots: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotOption:
    """A slot the model may fill along with an intent; `values` for enums."""

    name: str
    kind: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelRequest:
    flow: str
    state: str
    user: str
    system: str | None = None
    state_prompt: str | None = None
    knowledge: tuple[KnowledgeSnippet, ...] = ()
    history: tuple[tuple[str, str], ...] = ()  # (role, text), oldest first
    slots: dict[str, Any] = field(default_factory=dict)
    intents: tuple[IntentOption, ...] = ()  # empty: the model may only answer
    slot_options: tuple[SlotOption, ...] = ()
    model: str | None = None  # None: the provider's own
    temperature: float | None = None
    max_tokens: int | None = None
    history_tokens: int = 200
    min_confidence: float = 0.6


@dataclass(frozen=True)
class RouteResult:
    intent: str
    confidence: float
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelOutcome:
    """What one open-ended turn got from its provider, and what it cost."""

    provider: str
    model: str | None = None
    text: str = ""  # words for the user; "" when the model routed or failed
    route: RouteResult | None = None
    source: str = "llm"  # "llm", or "knowledge" when an offline provider answered from the FAQ
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    replayed: bool = False
    streamed: bool = False  # the text already reached the user token by token
    calls: int = 0  # requests made to a model (0: none, e.g. offline or circuit open)
    error: str | None = None  # why the model gave nothing usable
    error_kind: str | None = None  # engine.errors.LLMError.kind
    messages: tuple[tuple[str, str], ...] = ()  # what was sent, for /trace and --json
    notes: tuple[str, ...] = ()  # e.g. why a route was ignored


class LLMProvider(Protocol):
    name: str
    model: str | None
    off_reason: str  # why no model answers ("" when one does), for the start notice
    how_to_enable: str

    @property
    def enabled(self) -> bool:
        """False when no real model is reachable (offline): the bot says so once."""
        ...

    def describe(self) -> str:
        """One line for the start notice: which provider, model and endpoint."""
        ...

    def respond(self, request: ModelRequest, on_token: TokenSink | None = None) -> ModelOutcome:
        """Route or answer one open-ended turn. Failures the conversation survives
        come back as an outcome with `error` set, never as an exception."""
        ...
