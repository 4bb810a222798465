"""Whatever a user types, every turn completes with a reply and the session stays
plain JSON. Random messages from a fixed seed, so failures reproduce."""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path

import pytest

from engine import Engine, load_flow

FLOWS = Path(__file__).resolve().parent.parent / "flows"
WORDS = ("show me suvs under 35k", "tell me about the rav4", "compare civic and corolla",
         "book a test drive", "tomorrow", "Ann", "555-123-4567", "yes", "no", "help",
         "cancel", "restart", "bye", "human", "actually a sedan", "what are your hours?",
         "thanks", "7 seats", "electric", "£40,000", "next friday", "?", "", "  ")
ALPHABET = "abc xyz 0123456789 $£€.,!?-'\"\\/\x00\x07\t\n\u200b\u202e\ufeffé漢🚗\U0010ffff"


def random_message(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        return rng.choice(WORDS)
    if kind < 0.9:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
    return rng.choice(WORDS) + " " + "".join(rng.choice(ALPHABET) for _ in range(3000))


@pytest.mark.parametrize("flow_name", ["cars.yaml", "clinic.yaml"])
def test_random_conversations_never_break_a_turn(flow_name: str) -> None:
    engine = Engine(load_flow(FLOWS / flow_name), today=lambda: datetime.date(2026, 11, 30))
    rng = random.Random(20261130)
    for conversation in range(40):
        session = engine.new_session(f"fuzz-{conversation}")
        engine.start(session)
        for _ in range(25):
            message = random_message(rng)
            result = engine.handle(session, message)
            assert result.replies, f"no reply to {message!r} in state {result.state}"
            assert not [e for e in result.events if e["type"] == "error"], result.events
            assert result.state in engine.flow.states
            json.dumps(session.to_dict())
            json.dumps(result.to_dict(), default=str)
