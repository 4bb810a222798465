"""Session data: everything a conversation remembers between turns.

Plain, JSON-serialisable values only, so any store can keep a session and a
process can resume it. `__slots__` keeps an idle session small (the benchmark
holds 100,000 of them).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from engine.errors import StoreError
from engine.files import write_atomically


class Session:
    __slots__ = ("attempts", "ended", "history", "id", "pending", "slots", "stack", "state",
                 "turns")

    def __init__(
        self,
        state: str,
        id: str | None = None,
        slots: dict[str, Any] | None = None,
        pending: str | None = None,
        attempts: int = 0,
        stack: list[str] | None = None,
        history: list[list[str]] | None = None,
        turns: int = 0,
        ended: bool = False,
    ) -> None:
        self.id = id or uuid.uuid4().hex
        self.state = state
        self.slots: dict[str, Any] = slots if slots is not None else {}
        self.pending = pending  # the slot the bot has just asked for
        self.attempts = attempts  # invalid answers to the pending slot so far
        self.stack: list[str] = stack if stack is not None else []  # states to return to
        self.history: list[list[str]] = history if history is not None else []  # [role, text]
        self.turns = turns
        self.ended = ended

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """A session from its saved form; StoreError says what is wrong with a bad one."""
        unknown = set(data) - set(cls.__slots__)
        if unknown or "state" not in data:
            raise StoreError(f"not a flowbot session (unexpected keys: {sorted(unknown)})"
                             if unknown else "not a flowbot session (no 'state')")
        for key, value in data.items():
            expected, what = _FIELD_TYPES[key]
            if not expected(value):
                raise StoreError(f"not a flowbot session: '{key}' must be {what}")
        return cls(**data)

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, state={self.state!r}, slots={self.slots!r})"


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_FIELD_TYPES: dict[str, tuple[Any, str]] = {
    "id": (lambda v: isinstance(v, str), "a string"),
    "state": (lambda v: isinstance(v, str), "a string"),
    "slots": (lambda v: isinstance(v, dict), "an object"),
    "pending": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "attempts": (lambda v: type(v) is int and v >= 0, "a whole number"),
    "stack": (_strings, "a list of state names"),
    "history": (lambda v: isinstance(v, list) and all(_strings(t) and len(t) == 2 for t in v),
                "a list of [role, text] pairs"),
    "turns": (lambda v: type(v) is int and v >= 0, "a whole number"),
    "ended": (lambda v: isinstance(v, bool), "true or false"),
}


def load_session_file(path: Path) -> Session | None:
    """The session saved at `path`, or None when the file does not exist yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read session file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"session file {path} is not valid JSON: {exc.msg} "
                         f"(line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise StoreError(f"session file {path} does not hold a session object")
    return Session.from_dict(data)


def save_session_file(session: Session, path: Path) -> None:
    """Write atomically, so a crash never leaves half a session behind."""
    try:
        text = json.dumps(session.to_dict(), ensure_ascii=False, indent=1)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot save the session: {exc}") from None
    try:
        write_atomically(path, text, new_mode=0o600)  # a conversation may be personal
    except OSError as exc:
        raise StoreError(f"cannot write session file {path}: {exc.strerror}") from None


class MemoryStore:
    """Sessions by id, in this process."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def put(self, session: Session) -> None:
        self._sessions[session.id] = session

    def __len__(self) -> int:
        return len(self._sessions)
