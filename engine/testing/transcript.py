"""A turn as a conversation snapshot records it: only the fields that tell behaviour
apart, lookup results summarised, nothing that changes from run to run (latency,
whether an answer was replayed, session ids)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.replies import Reply
from engine.result import TurnResult


def brief(value: Any) -> Any:
    """Slot values as a reader wants them: lookup results summarised, not dumped."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return f"<{len(value)} row{'s' if len(value) != 1 else ''}>"
    if isinstance(value, Mapping):
        return "<row>"
    return value


def describe_reply(reply: Reply) -> Any:
    if not reply.buttons and not reply.items:
        return reply.text
    data: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        data["buttons"] = [b["title"] if b.get("payload") in (None, b["title"])
                           else f"{b['title']} -> {b['payload']}" for b in reply.buttons]
    if reply.items:
        data["items"] = [item["title"] + (f" - {item['subtitle']}" if item.get("subtitle")
                                          else "") for item in reply.items]
    return data


def describe_event(event: Mapping[str, Any]) -> str:
    """One line per event: `slot_filled slot=budget value=35000 by=mention`."""
    details = " ".join(f"{key}={_scalar(value)}" for key, value in event.items()
                       if key != "type")
    return f"{event.get('type', 'event')} {details}".strip()


def _scalar(value: Any) -> str:
    if isinstance(value, str) and value and " " not in value:
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _llm_summary(llm: Mapping[str, Any]) -> dict[str, Any]:
    # latency and `replayed` change between a recording run and a replay: left out.
    keys = ("model", "calls", "source", "routed", "prompt_tokens", "completion_tokens",
            "error_kind")
    return {key: llm[key] for key in keys if llm.get(key) not in (None, "")}


def describe_turn(number: int, result: TurnResult, before: Mapping[str, Any]) -> dict[str, Any]:
    """One turn of the transcript, with only the fields that tell behaviour apart."""
    entry: dict[str, Any] = {"turn": number}
    if result.user is not None:
        entry["user"] = result.user
        entry["intent"] = result.intent
        entry["route"] = result.route
        if result.route == "example" or (result.route == "llm" and result.intent):
            entry["confidence"] = round(result.confidence, 2)
    entry["state"] = result.state
    changed = {name: brief(value) for name, value in result.slots.items()
               if name not in before or before[name] != value}
    if changed:
        entry["slots"] = changed
    cleared = [name for name in before if name not in result.slots]
    if cleared:
        entry["cleared"] = cleared
    entry["bot"] = [describe_reply(reply) for reply in result.replies]
    if result.actions:
        entry["actions"] = list(result.actions)
    if result.events:
        entry["events"] = [describe_event(event) for event in result.events]
    if result.llm is not None:
        entry["llm"] = _llm_summary(result.llm)
    if result.ended:
        entry["ended"] = True
    return entry
