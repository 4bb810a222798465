"""The live chat backend: the official openai client, bounded by our own limits.

This is the only module in flowbot that imports `openai`. The client's own
retries are off (`max_retries=0`) and its timeouts are set explicitly, so how
long a turn can wait is decided here: one timeout per attempt, a few short
retries for failures that may pass (connection, 5xx, 429), none for a timeout
or a request the server rejected. Every failure becomes an `engine.errors`
LLMError whose message is short, human, and scrubbed of keys.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from engine.errors import (
    LLMBadOutput,
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
)
from engine.llm.chat import ChatAnswer, ChatCall, TokenSink, ToolCall
from engine.llm.redact import redact

BACKOFF = 0.5  # seconds before a retry when the server did not say how long to wait
_CONNECT_TIMEOUT = 5.0


class OpenAIBackend:
    """Carries out a ChatCall against an OpenAI-compatible chat-completions API."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float = 20.0,
        retries: int = 1,
        max_retry_wait: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.retries = max(0, retries)
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._api_key = api_key or ""
        self._client = openai.OpenAI(
            api_key=api_key or "not-needed",  # local servers (Ollama, llama.cpp) want no key
            base_url=base_url,
            timeout=openai.Timeout(timeout, connect=min(timeout, _CONNECT_TIMEOUT)),
            max_retries=0,
        )
        self.where = self._scrub(str(self._client.base_url).rstrip("/"))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def complete(self, call: ChatCall, on_token: TokenSink | None = None) -> ChatAnswer:
        attempt = 0
        while True:
            shown: list[str] = []  # text on_token already received in this attempt
            try:
                return self._attempt(call, on_token, shown)
            except _SinkFailed as failed:  # the caller's own error: not ours to map
                raise failed.error from None
            except (openai.OpenAIError, ValueError) as exc:
                error, wait = self._failure(exc, mid_answer=bool(shown))
            # Raised outside the except block: the client's exception (which may
            # quote the request) is not chained onto ours.
            if shown or attempt >= self.retries or wait is None or wait > self.max_retry_wait:
                raise error
            self._sleep(wait)
            attempt += 1

    # -- one attempt ------------------------------------------------------------------------

    def _attempt(self, call: ChatCall, on_token: TokenSink | None, shown: list[str]) -> ChatAnswer:
        body = call.body()
        if on_token is None:
            return _read_completion(self._client.chat.completions.create(**body))
        stream = self._client.chat.completions.create(
            **body, stream=True, stream_options={"include_usage": True})
        with stream:
            reading = _StreamReading()
            for chunk in stream:
                piece = reading.add(chunk)
                if piece:
                    shown.append(piece)
                    try:
                        on_token(piece)
                    except Exception as exc:
                        raise _SinkFailed(exc) from None
        return reading.answer()

    # -- failures ---------------------------------------------------------------------------

    def _failure(self, exc: Exception, *, mid_answer: bool) -> tuple[LLMError, float | None]:
        """The error to raise for `exc`, and how long to wait before retrying (None: never)."""
        if isinstance(exc, openai.APITimeoutError):
            if type(exc.__cause__).__name__ == "ConnectTimeout":
                limit = min(self.timeout, _CONNECT_TIMEOUT)
                message = f"could not connect to the model server at {self.where}"
                return LLMTimeout(self._scrub(f"{message} within {limit:g} s (timeout)")), None
            if mid_answer:
                message = f"the model stopped answering mid-answer for {self.timeout:g} s"
            else:
                message = f"the model did not answer within {self.timeout:g} s"
            return LLMTimeout(self._scrub(message + " (timeout)")), None
        if isinstance(exc, openai.APIConnectionError):
            reason = " ".join(str(exc.__cause__ or exc).split()).rstrip(".")
            if mid_answer:
                message = f"the connection to the model server at {self.where} broke mid-answer"
            elif "refused" in reason.lower():
                message = f"the model server at {self.where} refused the connection"
            else:
                message = f"could not reach the model server at {self.where} ({_short(reason)})"
            return LLMConnectionError(self._scrub(message)), min(BACKOFF, self.max_retry_wait)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _server_message(exc.body)
            retry_after = _retry_after(exc.response.headers)
            wait = retry_after if retry_after is not None else min(BACKOFF, self.max_retry_wait)
            if status == 429:
                message = "the model server is rate limiting requests (429)"
                if retry_after is not None:
                    message += f" and asks to wait {retry_after:g} s"
                message += f": {detail}" if detail else ""
                return LLMRateLimited(self._scrub(message), retry_after), wait
            message = f"the model server answered {status}" + (f": {detail}" if detail else "")
            return LLMServerError(self._scrub(message), status), wait if status >= 500 else None
        if isinstance(exc, openai.APIResponseValidationError):
            return LLMBadOutput("the model server's answer is not a valid chat completion"), None
        if isinstance(exc, openai.APIError):  # an error event inside a streamed answer
            detail = _server_message(exc.body) or _short(exc.message)
            message = f"the model server reported an error mid-answer: {detail}"
            return LLMServerError(self._scrub(message), 0), None
        if isinstance(exc, ValueError):  # JSON that does not parse, in a body or a stream
            return LLMBadOutput("the model server's answer is not valid JSON"), None
        message = f"the model's answer could not be read: {_short(str(exc))}"
        return LLMBadOutput(self._scrub(message)), None

    def _scrub(self, text: str) -> str:
        return redact(text, (self._api_key,))


class _SinkFailed(Exception):
    """Carries an exception raised by on_token past the failure mapping."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


# -- reading answers ------------------------------------------------------------------------


def _read_completion(completion: object) -> ChatAnswer:
    """A ChatAnswer from an unstreamed response; the client does not validate
    responses, so every part is checked here."""
    if not isinstance(completion, ChatCompletion):
        raise LLMBadOutput("the model server's answer is not a chat completion")
    try:
        if not completion.choices:
            raise LLMBadOutput("the model server answered with no choices")
        choice = completion.choices[0]
        message = choice.message
        calls: list[ToolCall] = []
        for call in message.tool_calls or ():
            if call.type == "custom":
                calls.append(ToolCall(call.custom.name, call.custom.input))
            else:
                calls.append(ToolCall(call.function.name, call.function.arguments or ""))
        usage = completion.usage
        return _answer(
            text=message.content or "",
            tool_calls=tuple(calls),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason,
            model=completion.model,
        )
    except (AttributeError, TypeError, IndexError, KeyError):
        raise LLMBadOutput("the model server's answer is missing parts of a chat completion") \
            from None


@dataclass
class _StreamReading:
    """What a streamed answer has said so far."""

    pieces: list[str] = field(default_factory=list)
    tool_names: dict[int, str] = field(default_factory=dict)
    tool_arguments: dict[int, list[str]] = field(default_factory=dict)
    finish_reason: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, chunk: ChatCompletionChunk) -> str:
        """Take in one chunk; returns its new text ("" when none)."""
        try:
            self.model = chunk.model or self.model
            if chunk.usage is not None:
                self.prompt_tokens = chunk.usage.prompt_tokens
                self.completion_tokens = chunk.usage.completion_tokens
            text = ""
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                delta = choice.delta
                text += delta.content or ""
                for call in delta.tool_calls or ():
                    if call.function is not None and call.function.name:
                        self.tool_names[call.index] = call.function.name
                    arguments = call.function.arguments if call.function is not None else None
                    self.tool_arguments.setdefault(call.index, []).append(arguments or "")
                self.finish_reason = choice.finish_reason or self.finish_reason
        except (AttributeError, TypeError):
            raise LLMBadOutput("the model server sent a chunk that is not a chat completion") \
                from None
        if text:
            self.pieces.append(text)
        return text

    def answer(self) -> ChatAnswer:
        if self.finish_reason is None:
            raise LLMBadOutput("the model's streamed answer ended before it was finished")
        if set(self.tool_arguments) - set(self.tool_names):
            raise LLMBadOutput("the model called a tool without naming it")
        try:
            order = sorted(self.tool_names)
        except TypeError:  # a server mixing numbered and unnumbered tool calls
            raise LLMBadOutput("the model's tool calls are not numbered consistently") from None
        calls = tuple(ToolCall(self.tool_names[index], "".join(self.tool_arguments.get(index, [])))
                      for index in order)
        return _answer(text="".join(self.pieces), tool_calls=calls,
                       prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                       finish_reason=self.finish_reason, model=self.model,
                       chunks=tuple(self.pieces))


def _answer(*, text: object, tool_calls: tuple[ToolCall, ...], prompt_tokens: object,
            completion_tokens: object, finish_reason: object, model: object,
            chunks: tuple[str, ...] = ()) -> ChatAnswer:
    """The one gate every answer passes: the client builds responses without
    checking their types, so a server's odd JSON is caught here, not downstream."""
    if not isinstance(text, str) or not all(
            isinstance(c.name, str) and isinstance(c.arguments, str) for c in tool_calls):
        raise LLMBadOutput("the model server's answer has text or tool calls of the wrong type")
    prompt = 0 if prompt_tokens is None else prompt_tokens
    completion = 0 if completion_tokens is None else completion_tokens
    if not (isinstance(prompt, int) and isinstance(completion, int)):
        raise LLMBadOutput("the model server's token counts are not whole numbers")
    if not isinstance(model, str | None) or not isinstance(finish_reason, str | None):
        raise LLMBadOutput("the model server's answer names its model or finish oddly")
    if not text.strip() and not tool_calls:
        raise LLMBadOutput("the model answered with an empty message")
    return ChatAnswer(text=text, tool_calls=tool_calls, prompt_tokens=prompt,
                      completion_tokens=completion, finish_reason=finish_reason,
                      model=model, chunks=chunks)


# -- small helpers --------------------------------------------------------------------------


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _server_message(body: object) -> str:
    """The server's own words about an error, if it sent some readable ones."""
    message = body.get("message") if isinstance(body, Mapping) else body
    if not isinstance(message, str) or message.lstrip().startswith("<"):  # no HTML pages
        return ""
    return _short(message)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, or `Retry-After` in
    seconds or as an HTTP date. None when it did not say (or said nonsense)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            seconds = _seconds_until(value) if scale == 1.0 else math.nan
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def _seconds_until(http_date: str) -> float:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return math.nan
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()
