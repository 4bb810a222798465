"""One chat-completions exchange, independent of how it is carried out.

A `ChatCall` is the request exactly as the API receives it (minus credentials
and the `stream` switch); a `ChatAnswer` is what came back. A `ChatBackend`
turns one into the other: the live OpenAI client, a cassette being recorded,
a cassette being replayed, or a test's fake. Everything above the backend
(prompt assembly, routing, failure handling) is the same for all of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

TokenSink = Callable[[str], None]  # receives reply text as it streams in


@dataclass(frozen=True)
class ChatCall:
    model: str
    messages: tuple[tuple[str, str], ...]  # (role, content), in order
    temperature: float | None = None
    max_tokens: int | None = None
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body of the request (without `stream`, which does not change
        the answer: a call recorded unstreamed replays streamed, and back)."""
        data: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": role, "content": content} for role, content in self.messages],
        }
        if self.temperature is not None:
            data["temperature"] = self.temperature
        if self.max_tokens is not None:
            data["max_tokens"] = self.max_tokens
        if self.tools:
            data["tools"] = list(self.tools)
        if self.tool_choice is not None:
            data["tool_choice"] = self.tool_choice
        return data

    def key(self) -> str:
        """A stable hash of the request: same body, same key, on every machine."""
        canonical = json.dumps(self.body(), sort_keys=True, ensure_ascii=False,
                               separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # raw JSON text as the model wrote it: parsed and validated by the caller


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    model: str | None = None
    replayed: bool = False
    chunks: tuple[str, ...] = field(default=(), compare=False)  # the text as it streamed


class ChatBackend(Protocol):
    """Carries out one call. Raises an engine.errors.LLMError subclass for a
    failure the conversation survives (timeout, connection, rate limit, server
    error, unusable output); never returns a half answer."""

    name: str  # "openai", "replay", …: shown in the trace
    where: str  # where the calls go (a base URL or a cassette path), for the start notice

    def complete(self, call: ChatCall, on_token: TokenSink | None = None) -> ChatAnswer: ...
