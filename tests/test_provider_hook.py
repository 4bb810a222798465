"""The seam the LLM layer plugs into, exercised with a fake provider: the router
tier (the model may only choose allowed intents, and its slot values are parsed
like user text) and open-ended replies (the request carries the state's prompt)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine import Engine, load_flow
from engine.llm import ModelOutcome, ModelRequest, RouteResult, TokenSink

CARS = Path(__file__).resolve().parent.parent / "flows" / "cars.yaml"


@dataclass
class FakeProvider:
    name: str = "fake"
    model: str | None = "fake-1"
    off_reason: str = ""
    how_to_enable: str = ""
    route_answer: RouteResult | None = None
    reply_text: str = "A model's answer."
    error: str | None = None
    requests: list[ModelRequest] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return True

    def describe(self) -> str:
        return "LLM: fake-1 via nowhere (test)"

    def respond(self, request: ModelRequest, on_token: TokenSink | None = None) -> ModelOutcome:
        self.requests.append(request)
        if self.error:
            return ModelOutcome(self.name, self.model, error=self.error, error_kind="timeout",
                                calls=1)
        if self.route_answer is not None:
            return ModelOutcome(self.name, self.model, route=self.route_answer, calls=1)
        return ModelOutcome(self.name, self.model, text=self.reply_text, prompt_tokens=120,
                            completion_tokens=12, latency_ms=3.5, calls=1)


def engine_with(provider: FakeProvider) -> Engine:
    return Engine(load_flow(CARS), provider=provider, today=lambda: datetime.date(2026, 11, 30))


def test_the_start_notice_names_the_provider_when_a_model_is_on() -> None:
    engine = engine_with(FakeProvider())
    assert engine.start(engine.new_session()).notices == ["LLM: fake-1 via nowhere (test)"]


def test_the_router_tier_takes_an_allowed_intent_and_parses_its_slots() -> None:
    provider = FakeProvider(route_answer=RouteResult(
        "book", 0.9, {"model": "the RAV4", "date": "friday", "budget": "99"}))
    engine = engine_with(provider)
    session = engine.new_session()
    engine.start(session)
    result = engine.handle(session, "I fancy taking one out for a spin")
    assert (result.intent, result.route, result.confidence) == ("book", "llm", 0.9)
    assert result.slots["model"] == "RAV4" and result.slots["date"] == "2026-12-04"
    assert "budget" not in result.slots  # not a slot of the chosen intent
    request = provider.requests[0]
    names = [option.name for option in request.intents]
    assert "book" in names and "help" in names and "affirm" not in names
    assert "model" in [slot.name for slot in request.slot_options]


def test_the_router_cannot_choose_an_intent_not_allowed_here() -> None:
    provider = FakeProvider(route_answer=RouteResult("affirm", 0.99))
    engine = engine_with(provider)
    session = engine.new_session()
    engine.start(session)
    result = engine.handle(session, "what is the meaning of life")
    assert result.intent is None and result.route == "fallback"
    assert result.state == "greet"


def test_an_open_ended_turn_sends_the_state_prompt_and_shows_the_answer() -> None:
    provider = FakeProvider()
    engine = engine_with(provider)
    session = engine.new_session()
    engine.start(session)
    engine.handle(session, "show me suvs under 30k")
    result = engine.handle(session, "which of these is best for a dog?")
    assert result.route == "llm" and result.texts == ["A model's answer."]
    assert result.llm is not None and result.llm["prompt_tokens"] == 120
    request = provider.requests[-1]
    assert request.state == "browse" and request.user == "which of these is best for a dog?"
    assert request.state_prompt is not None and "Chevrolet Trax" in request.state_prompt
    assert request.system is not None and "Acme Motors" in request.system
    assert request.history[-1][0] == "bot"
    assert request.slots == {"body_type": "suv", "budget": 30000}  # no lookup results
    assert (request.model, request.temperature, request.max_tokens) == ("gpt-4o-mini", 0.3, 300)


def test_a_failed_model_call_gets_the_state_fallback_and_shows_the_error() -> None:
    engine = engine_with(FakeProvider(error="the model did not answer within 20 s"))
    session = engine.new_session()
    engine.start(session)
    result = engine.handle(session, "what is the meaning of life")
    assert result.route == "fallback" and "browse cars" in result.texts[0]
    assert result.llm is not None and result.llm["error_kind"] == "timeout"
    assert {"type": "llm_error", "kind": "timeout"} in result.events
    assert any("model failed (timeout)" in step for step in result.trace)


@pytest.mark.parametrize("reply_text", ["", "   "])
def test_an_empty_model_answer_gets_the_fallback(reply_text: str) -> None:
    engine = engine_with(FakeProvider(reply_text=reply_text))
    session = engine.new_session()
    engine.start(session)
    assert engine.handle(session, "what is the meaning of life").route == "fallback"
