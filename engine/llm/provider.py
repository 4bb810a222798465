"""The provider that asks a chat model: one request per open-ended turn.

It assembles the messages (engine/llm/messages.py), offers the routing tool
when the state allows it (engine/llm/route_tool.py), hands the call to a
ChatBackend (live, recording or replaying) and turns whatever happens into a
ModelOutcome. Failures never escape: a timeout, refused connection, rate limit,
server error or unusable answer becomes an outcome with `error` set, the turn
says the state's fallback and the conversation goes on. After repeated
failures the circuit breaker skips the model for a while, so users do not
each wait out a timeout while the server is down.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from engine.errors import (
    LLMBadOutput,
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMReplayMiss,
    LLMServerError,
    LLMTimeout,
)
from engine.llm.base import ModelOutcome, ModelRequest
from engine.llm.breaker import CircuitBreaker
from engine.llm.chat import ChatAnswer, ChatBackend, ChatCall, TokenSink
from engine.llm.messages import build_messages
from engine.llm.offline import OfflineProvider
from engine.llm.redact import redact
from engine.llm.route_tool import parse_route, route_tool
from engine.llm.tokens import estimate_messages, estimate_tokens, estimate_tools


class ChatProvider:
    name = "openai"
    off_reason = ""
    how_to_enable = ""

    def __init__(
        self,
        backend: ChatBackend,
        model: str,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        mode: str = "live",
        pinned: bool = False,
        breaker: CircuitBreaker | None = None,
        on_miss: OfflineProvider | None = None,
        secrets: tuple[str, ...] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.backend = backend
        self.model: str | None = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.mode = mode
        self.pinned = pinned  # the model was chosen outside the flow (FLOWBOT_MODEL): it wins
        self.tools_refused = False
        self.breaker = breaker or CircuitBreaker()
        self.on_miss = on_miss or OfflineProvider()  # lenient replay: answer as offline
        self.secrets = secrets
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return True

    def describe(self) -> str:
        return f"LLM: {self.model} via {self.backend.where} ({self.mode})"

    def call_for(self, request: ModelRequest) -> ChatCall:
        tools = (route_tool(request),) if request.intents else ()
        return ChatCall(
            model=(self.model if self.pinned else request.model or self.model) or "",
            messages=build_messages(request),
            temperature=request.temperature if request.temperature is not None
            else self.temperature,
            max_tokens=request.max_tokens or self.max_tokens,
            tools=tools,
            tool_choice="auto" if tools else None,
        )

    def respond(self, request: ModelRequest, on_token: TokenSink | None = None) -> ModelOutcome:
        if self.tools_refused:  # this server cannot route: ask it only to answer
            request = dataclasses.replace(request, intents=(), slot_options=())
        outcome = self._respond(request, on_token)
        if outcome.error_kind == "server" and request.intents and _refuses_tools(outcome.error):
            # Many local servers (Ollama models, vLLM without a tool parser) reject
            # tools with a 400. Say so once, then carry on without the LLM router.
            self.tools_refused = True
            retried = self._respond(dataclasses.replace(request, intents=(), slot_options=()),
                                    on_token)
            note = "the model server does not take tools: the LLM router is off from now on"
            return _replace(retried, calls=retried.calls + 1, notes=(*retried.notes, note))
        return outcome

    def _respond(self, request: ModelRequest, on_token: TokenSink | None) -> ModelOutcome:
        call = self.call_for(request)
        base = ModelOutcome(provider=self.name, model=call.model, messages=call.messages)
        if not self.breaker.allow():
            return _failed(base, f"skipped: recent calls failed, trying again in "
                                 f"{self.breaker.retry_in():.0f} s", "circuit_open", calls=0)
        streamed: list[str] = []
        sink = None
        if on_token is not None:
            def sink(piece: str) -> None:
                streamed.append(piece)
                on_token(piece)
        started = self.clock()
        try:
            answer = self.backend.complete(call, sink)
        except LLMReplayMiss as exc:
            missed = self.on_miss.respond(request)
            return _replace(missed, notes=(redact(str(exc), self.secrets),), messages=call.messages)
        except LLMError as exc:
            if _is_outage(exc):
                self.breaker.record_failure()
            else:  # the server is there, it just gave nothing usable this time
                self.breaker.record_success()
            return _failed(base, redact(str(exc), self.secrets), exc.kind, calls=1,
                           streamed=bool(streamed), latency_ms=self._since(started))
        self.breaker.record_success()
        outcome = _replace(
            base, calls=1, latency_ms=self._since(started), replayed=answer.replayed,
            model=answer.model or call.model, streamed=bool(streamed),
            prompt_tokens=answer.prompt_tokens or (estimate_messages(call.messages)
                                                     + estimate_tools(call.tools)),
            completion_tokens=answer.completion_tokens or estimate_tokens(answer.text))
        try:
            return self._read(answer, request, outcome)
        except LLMBadOutput as exc:  # the model answered, just not usefully: not an outage
            return _failed(outcome, redact(str(exc), self.secrets), exc.kind, calls=1,
                           streamed=outcome.streamed, latency_ms=outcome.latency_ms)

    def _read(self, answer: ChatAnswer, request: ModelRequest,
              outcome: ModelOutcome) -> ModelOutcome:
        if answer.tool_calls:
            first = answer.tool_calls[0]
            route = parse_route(first.name, first.arguments, request)
            if route.confidence < request.min_confidence:
                note = (f"LLM router chose '{route.intent}' with confidence "
                        f"{route.confidence}, below {request.min_confidence}: ignored")
                if answer.text.strip():
                    return _replace(outcome, text=answer.text.strip(), notes=(note,))
                raise LLMBadOutput(note)
            return _replace(outcome, route=route)
        text = redact(answer.text, self.secrets).strip()
        if not text:
            raise LLMBadOutput("the model's answer was empty")
        notes = (("the answer was cut short at max_tokens",)
                 if answer.finish_reason == "length" else ())
        return _replace(outcome, text=text, notes=notes)

    def _since(self, started: float) -> float:
        return round((self.clock() - started) * 1000, 1)


def _refuses_tools(error: str | None) -> bool:
    text = (error or "").lower()
    return "answered 400" in text and "tool" in text


def _is_outage(error: LLMError) -> bool:
    """Failures that say the server is unreachable or overloaded: only these open the
    circuit. An empty answer or a rejected request (4xx) says nothing about the next."""
    if isinstance(error, LLMServerError):
        return error.status >= 500 or error.status == 0
    return isinstance(error, LLMTimeout | LLMConnectionError | LLMRateLimited)


def _replace(outcome: ModelOutcome, **changes: Any) -> ModelOutcome:
    return dataclasses.replace(outcome, **changes)


def _failed(base: ModelOutcome, error: str, kind: str, *, calls: int, streamed: bool = False,
            latency_ms: float = 0.0) -> ModelOutcome:
    return _replace(base, text="", route=None, error=error, error_kind=kind, calls=calls,
                    streamed=streamed, latency_ms=latency_ms)
