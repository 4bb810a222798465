"""Reading recorded conversations (`flowbot replay`) from JSON lines.

Two shapes are accepted, line by line, and blank lines are skipped:

- the output of `flowbot run --json`: a line with `"user": null` is a greeting
  and starts a conversation from the flow's start; `{"user": null, "resumed":
  true, "state": ..., "slots": ...}` starts one mid-flow; a line whose "user"
  is a string is a turn, with the replies, state, intent and route it got.
  Several runs may be concatenated in one file.
- a simple export, `{"role": "user"|"bot", "text": ...}`: the bot lines after
  a user line are that turn's replies (bot lines before any user line are the
  greeting); a bot line may add "state" and "intent" to be compared.

Only what a line holds is compared later, so each turn says which of its
fields were recorded: an export without states checks the words alone, and a
turn without "replies" (or a user line with no bot line after it) has its
words left alone. A byte-order mark at the start of the file is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import FlowbotError

BOT_ROLES = ("bot", "assistant")  # "assistant": what chat exports elsewhere call the bot


class TranscriptError(FlowbotError):
    """A transcript cannot be read; the message points at FILE:LINE."""

    exit_code = 2

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path, self.line, self.problem = path, line, problem
        super().__init__(f"{path}:{line}: {problem}" if line is not None else f"{path}: {problem}")


def answered_by_model(route: object, llm: object) -> bool:
    """Whether the model answered a turn, from its route and the `llm` details of a
    TurnResult (or a `flowbot run --json` line): then its wording may vary."""
    return route == "llm" or (isinstance(llm, Mapping) and llm.get("source") == "llm"
                              and not llm.get("error"))


@dataclass(frozen=True)
class RecordedTurn:
    """One recorded turn. `user` is None for the bot's greeting, as in TurnResult."""

    user: str | None
    replies: tuple[str, ...] | None  # None: the recording does not say what the bot said
    state: str | None = None
    intent: str | None = None
    route: str | None = None
    ended: bool = False
    llm: bool = False  # the model answered this turn, so its wording may vary
    line: int = 0
    # Which of state/intent/route/ended the recording holds: an intent of None is
    # "no intent matched" in `run --json`, but "not recorded" in an export.
    recorded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RecordedConversation:
    """A conversation from the flow's start (start_state None) or resumed mid-flow."""

    start_state: str | None
    start_slots: Mapping[str, Any]
    turns: tuple[RecordedTurn, ...]
    line: int
    greeting: RecordedTurn | None = None


@dataclass(frozen=True)
class _Where:
    path: str
    line: int

    def error(self, problem: str) -> TranscriptError:
        return TranscriptError(self.path, self.line, problem)


@dataclass
class _Conversation:
    """A conversation while its lines are still being read."""

    line: int
    start_state: str | None = None
    start_slots: dict[str, Any] = field(default_factory=dict)
    greeting: RecordedTurn | None = None
    turns: list[RecordedTurn] = field(default_factory=list)

    def frozen(self) -> RecordedConversation:
        return RecordedConversation(self.start_state, self.start_slots, tuple(self.turns),
                                    self.line, self.greeting)


def read_transcript(path: Path) -> tuple[RecordedConversation, ...]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerates a byte-order mark
    except FileNotFoundError:
        raise TranscriptError(str(path), None, "no such file") from None
    except OSError as exc:
        raise TranscriptError(str(path), None, f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TranscriptError(str(path), None, "not UTF-8 text") from None
    return parse_transcript(text.splitlines(), str(path))


def parse_transcript(lines: Iterable[str], path: str) -> tuple[RecordedConversation, ...]:
    conversations: list[_Conversation] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = _Where(path, number)
        data = _object(raw, where)
        if "user" in data:
            _read_run_line(data, where, conversations)
        elif "role" in data:
            _read_export_line(data, where, conversations)
        else:
            raise where.error("neither a `flowbot run --json` line (no \"user\") nor an "
                              "export line (no \"role\")")
    if not conversations:
        raise TranscriptError(path, None, "holds no conversation")
    return tuple(conversation.frozen() for conversation in conversations)


def _object(raw: str, where: _Where) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise where.error(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise where.error(f"expected a JSON object, not {type(data).__name__}")
    return data


def _current(conversations: list[_Conversation], where: _Where) -> _Conversation:
    """The conversation a turn belongs to; a file without a greeting starts one."""
    if not conversations:
        conversations.append(_Conversation(where.line))
    return conversations[-1]


def _read_run_line(data: dict[str, Any], where: _Where,
                   conversations: list[_Conversation]) -> None:
    user = data["user"]
    if user is not None and not isinstance(user, str):
        raise where.error("\"user\" must be a string, or null for a greeting")
    if user is None and data.get("resumed"):
        state = data.get("state")
        slots = data.get("slots", {})
        if not isinstance(state, str) or not state:
            raise where.error("a resumed line needs the \"state\" it resumed in")
        if not isinstance(slots, dict):
            raise where.error("\"slots\" must be an object")
        conversations.append(_Conversation(where.line, state, slots))
        return
    turn = _run_turn(user, data, where)
    if user is None:
        conversations.append(_Conversation(where.line, greeting=turn))
    else:
        _current(conversations, where).turns.append(turn)


def _run_turn(user: str | None, data: dict[str, Any], where: _Where) -> RecordedTurn:
    texts: tuple[str, ...] | None = None
    if "replies" in data:
        replies = data["replies"]
        if not isinstance(replies, list):
            raise where.error("\"replies\" must be a list")
        texts = tuple(_reply_text(reply, where) for reply in replies)
    recorded: set[str] = set()
    values: dict[str, Any] = {}
    for key in ("state", "intent", "route"):
        if key in data:
            values[key] = _optional_text(data, key, where)
            recorded.add(key)
    if "ended" in data:
        if not isinstance(data["ended"], bool):
            raise where.error("\"ended\" must be true or false")
        values["ended"] = data["ended"]
        recorded.add("ended")
    by_model = answered_by_model(data.get("route"), data.get("llm"))
    return RecordedTurn(user, texts, llm=by_model, line=where.line,
                        recorded=frozenset(recorded), **values)


def _reply_text(reply: Any, where: _Where) -> str:
    if isinstance(reply, str):
        return reply
    text = reply.get("text") if isinstance(reply, dict) else None
    if isinstance(text, str):
        return text
    raise where.error("each reply must be an object with a \"text\" string")


def _optional_text(data: dict[str, Any], key: str, where: _Where) -> str | None:
    value = data[key]
    if value is not None and not isinstance(value, str):
        raise where.error(f"\"{key}\" must be a string or null")
    return value


def _read_export_line(data: dict[str, Any], where: _Where,
                      conversations: list[_Conversation]) -> None:
    role, text = data["role"], data.get("text")
    if not isinstance(text, str):
        raise where.error("\"text\" must be a string")
    if role == "user":
        _current(conversations, where).turns.append(RecordedTurn(text, None, line=where.line))
        return
    if role not in BOT_ROLES:
        raise where.error(f"\"role\" must be \"user\" or \"bot\", not {json.dumps(role)}")
    conversation = _current(conversations, where)
    last = conversation.turns[-1] if conversation.turns else conversation.greeting
    if last is None:  # bot lines before any user line: the greeting
        last = RecordedTurn(None, None, line=where.line)
    changes: dict[str, Any] = {"replies": (*(last.replies or ()), text)}
    recorded = set(last.recorded)
    for key in ("state", "intent"):
        if key in data:
            changes[key] = _optional_text(data, key, where)
            recorded.add(key)
    updated = replace(last, recorded=frozenset(recorded), **changes)
    if conversation.turns:
        conversation.turns[-1] = updated
    else:
        conversation.greeting = updated
