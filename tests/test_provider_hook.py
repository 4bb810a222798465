"""The seams the LLM layer plugs into, exercised with a fake provider: the router
tier (the model may only choose allowed intents, and its slot values are parsed
like user text) and open-ended replies (the request carries the state's prompt)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine import Engine, load_flow
from engine.llm import LLMReply, ReplyRequest, RouteRequest, RouteResult

CARS = Path(__file__).resolve().parent.parent / "flows" / "cars.yaml"


@dataclass
class FakeProvider:
    name: str = "fake"
    model: str | None = "fake-1"
    off_reason: str = ""
    how_to_enable: str = ""
    route_answer: RouteResult | None = None
    reply_text: str | None = "A model's answer."
    routes: list[RouteRequest] = field(default_factory=list)
    replies: list[ReplyRequest] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return True

    def route(self, request: RouteRequest) -> RouteResult | None:
        self.routes.append(request)
        return self.route_answer

    def reply(self, request: ReplyRequest) -> LLMReply | None:
        self.replies.append(request)
        if self.reply_text is None:
            return None
        return LLMReply(self.reply_text, self.name, self.model, prompt_tokens=120,
                        completion_tokens=12, latency_ms=3.5)


def engine_with(provider: FakeProvider) -> Engine:
    return Engine(load_flow(CARS), provider=provider, today=lambda: datetime.date(2026, 11, 30))


def test_no_notice_when_a_model_is_on() -> None:
    engine = engine_with(FakeProvider())
    assert engine.start(engine.new_session()).notices == []


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
    request = provider.routes[0]
    assert "book" in request.intents and "help" in request.intents
    assert "model" in request.slots


def test_the_router_cannot_choose_an_intent_not_allowed_here() -> None:
    provider = FakeProvider(route_answer=RouteResult("affirm", 0.99), reply_text=None)
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
    request = provider.replies[-1]
    assert request.state == "browse" and request.user == "which of these is best for a dog?"
    assert request.state_prompt is not None and "Chevrolet Trax" in request.state_prompt
    assert request.system is not None and "Acme Motors" in request.system
    assert request.history[-1][0] == "bot"


def test_a_declined_open_ended_turn_gets_the_state_fallback() -> None:
    engine = engine_with(FakeProvider(reply_text=None))
    session = engine.new_session()
    engine.start(session)
    result = engine.handle(session, "what is the meaning of life")
    assert result.route == "fallback" and "browse cars" in result.texts[0]


@pytest.mark.parametrize("reply_text", ["", "   "])
def test_an_empty_model_answer_gets_the_fallback(reply_text: str) -> None:
    engine = engine_with(FakeProvider(reply_text=reply_text))
    session = engine.new_session()
    engine.start(session)
    assert engine.handle(session, "what is the meaning of life").route == "fallback"
