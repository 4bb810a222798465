"""A turn's `expect:` block checked against what the turn did, each failure a sentence."""

from __future__ import annotations

from typing import Any

from engine.result import TurnResult
from engine.testing.convo import Expectation


def check(expect: Expectation, result: TurnResult) -> list[str]:
    """Every expectation of the turn that does not hold, as a sentence."""
    problems = []
    if expect.state is not None and result.state != expect.state:
        problems.append(f"expected state '{expect.state}', got '{result.state}'")
    if expect.checks_intent and result.intent != expect.intent:
        problems.append(f"expected intent {_shown(expect.intent)}, got {_shown(result.intent)}")
    if expect.route is not None and result.route != expect.route:
        problems.append(f"expected route '{expect.route}', got '{result.route}'")
    for name, wanted in (expect.slots or {}).items():
        actual = result.slots.get(name)
        if actual != wanted:
            problems.append(f"expected slot '{name}' = {_shown(wanted)}, got {_shown(actual)}")
    text = "\n".join(result.texts)
    lowered = text.casefold()
    for wanted in expect.says:
        if wanted.casefold() not in lowered:
            problems.append(f"expected the reply to say {wanted!r}; it said {text!r}")
    for unwanted in expect.not_says:
        if unwanted.casefold() in lowered:
            problems.append(f"expected the reply not to say {unwanted!r}; it said {text!r}")
    if expect.matches is not None and expect.matches.search(text) is None:
        problems.append(f"expected the reply to match /{expect.matches.pattern}/; "
                        f"it said {text!r}")
    offered = [button["title"] for reply in result.replies for button in reply.buttons]
    missing = [title for title in expect.buttons if title not in offered]
    if missing:
        problems.append(f"expected buttons {missing}; offered {offered}")
    if expect.ended is not None and result.ended != expect.ended:
        problems.append("expected the conversation to end" if expect.ended
                        else "expected the conversation to go on; it ended")
    if expect.llm is not None and (result.llm is not None) != expect.llm:
        problems.append("expected the model to be asked" if expect.llm
                        else "expected no model call; the model was asked")
    return problems


def _shown(value: Any) -> str:
    return "null" if value is None else repr(value)
