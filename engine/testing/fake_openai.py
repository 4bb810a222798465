"""A small OpenAI-compatible chat-completions server for tests and demos.

It listens on 127.0.0.1, records every request it receives, and answers what
the test scripted: text, tool calls, error statuses, delays, hangs, broken
JSON or a dropped connection, unstreamed or as server-sent events.

    with FakeOpenAI() as fake:
        fake.script(FakeReply(status=503), FakeReply(text="Hello there."))
        ...  # point an OpenAI client at fake.base_url

`python -m engine.testing.fake_openai --port 8765` serves it for manual demos.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

DEFAULT_ANSWER = "This is the fake model's answer."

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
                404: "invalid_request_error", 429: "rate_limit_exceeded"}


@dataclass
class FakeReply:
    """One scripted answer. `empty` sends no choices at all; `text=""` sends an
    empty content. `malformed` sends JSON cut short (streamed: a broken event
    after the first piece of text). `drop` closes the connection without
    answering (streamed: after the first piece). `hang` answers nothing until
    the server closes; `delay` waits before answering."""

    text: str = DEFAULT_ANSWER
    tool_calls: Sequence[tuple[str, str]] = ()  # (name, arguments as JSON text)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str | None = None
    delay: float = 0.0
    hang: bool = False
    malformed: bool = False
    empty: bool = False
    drop: bool = False
    finish_reason: str | None = None  # None: "tool_calls" when there are any, else "stop"
    prompt_tokens: int | None = None  # None: estimated from the request's messages
    completion_tokens: int | None = None  # None: estimated from the answer
    chunk_delay: float = 0.0  # between streamed pieces (`delay` is before the first)
    raw: str | None = None  # sent verbatim as the JSON body (streamed: as the one event)


ReplySource = FakeReply | Callable[[dict[str, Any]], FakeReply]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # as sent; look names up in lower case
    body: Any  # the parsed JSON body, or None (GET, or not JSON)


def estimate_tokens(text: str) -> int:
    """About one token per four characters, at least one."""
    return max(1, round(len(text) / 4))


def _pieces(text: str) -> list[str]:
    """Split text the way a model streams it: word by word, spaces kept."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def _usage(body: dict[str, Any], reply: FakeReply) -> dict[str, int]:
    messages = body.get("messages")
    contents = [m.get("content") for m in messages if isinstance(m, dict)] \
        if isinstance(messages, list) else []
    prompt = "".join(c if isinstance(c, str) else json.dumps(c) for c in contents if c)
    answer = reply.text + "".join(arguments for _, arguments in reply.tool_calls)
    used_in = estimate_tokens(prompt) if reply.prompt_tokens is None else reply.prompt_tokens
    used_out = estimate_tokens(answer) if reply.completion_tokens is None \
        else reply.completion_tokens
    return {"prompt_tokens": used_in, "completion_tokens": used_out,
            "total_tokens": used_in + used_out}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve(None)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._serve(body)

    def _serve(self, body: Any) -> None:
        fake = cast(_Server, self.server).fake
        path = self.path.split("?", 1)[0].rstrip("/")
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake.requests.append(RecordedRequest(self.command, path, headers, body))
        with fake._track(self.connection):
            if self.command == "GET" and path == "/v1/models":
                self._send_json(200, {"object": "list", "data": [
                    {"id": "fake-model", "object": "model", "created": 0, "owned_by": "flowbot"}]})
            elif self.command != "POST" or path != "/v1/chat/completions":
                self._send_error(404, f"Unknown request URL: {self.command} {path}")
            elif not isinstance(body, dict):
                self._send_error(400, "The request body is not a JSON object.")
            else:
                fake._answer(self, body, fake._next_reply(body))

    def _send_head(self, status: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(data).encode(), headers or {})

    def _send_raw(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        length = {"Content-Length": str(len(payload))}
        self._send_head(status, "application/json", {**headers, **length})
        self.wfile.write(payload)

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "api_error")
        code = {401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded"}.get(status)
        error = {"message": message, "type": error_type, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _send_event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client went away (timed out, or the server is closing)
            self.close_connection = True


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1, running from construction until close()."""

    def __init__(self, port: int = 0, default: ReplySource | None = None) -> None:
        self.default: ReplySource = default if default is not None else FakeReply()
        self.requests: list[RecordedRequest] = []
        self._queue: deque[FakeReply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._ids = itertools.count(1)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,),
                                        name=f"fake-openai-{self.port}", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: FakeReply) -> None:
        """Queue answers, one per chat request; once used up, `default` answers."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self, default: ReplySource | None = None) -> None:
        """Forget recorded requests and queued answers, so one server serves many tests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.default = default if default is not None else FakeReply()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def close(self) -> None:
        """Stop serving; wakes hanging and sleeping answers, so it never waits long."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- answering (runs in the handler threads) --------------------------------------------

    @contextlib.contextmanager
    def _track(self, connection: socket.socket) -> Iterator[None]:
        """Keep a handler's socket known while it answers, so close() can cut it."""
        with self._lock:
            self._connections.add(connection)
        try:
            yield
        finally:
            with self._lock:
                self._connections.discard(connection)

    def _next_reply(self, body: dict[str, Any]) -> FakeReply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default(body) if callable(self.default) else self.default

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is closing; True when it is."""
        return self._closing.wait(seconds) if seconds > 0 else self._closing.is_set()

    def _answer(self, handler: _Handler, body: dict[str, Any], reply: FakeReply) -> None:
        if reply.hang:
            self._closing.wait()
        if reply.hang or self._wait(reply.delay) or (reply.drop and not body.get("stream")):
            handler.close_connection = True
            return
        if reply.status >= 400:
            error = reply.error_message or f"The fake server answered {reply.status}."
            handler._send_error(reply.status, error, reply.headers)
            return
        if reply.raw is not None and not body.get("stream"):
            handler._send_raw(200, reply.raw.encode(), reply.headers)
            return
        usage = _usage(body, reply)
        number = next(self._ids)
        head = {"id": f"chatcmpl-fake{number}", "created": int(time.time()),
                "model": body.get("model", "fake-model"), "system_fingerprint": None}
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        calls = [{"id": f"call_fake{number}_{i}", "type": "function",
                  "function": {"name": name, "arguments": args}}
                 for i, (name, args) in enumerate(reply.tool_calls)]
        if body.get("stream"):
            options = body.get("stream_options")
            with_usage = isinstance(options, dict) and options.get("include_usage") is True
            self._stream(handler, reply, head, calls, finish, usage if with_usage else None)
            return
        if reply.malformed:
            handler._send_raw(200, b'{"id": "chatcmpl-broken", "choices": [{"mess', reply.headers)
            return
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        choices = [] if reply.empty else [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]
        data = {**head, "object": "chat.completion", "choices": choices, "usage": usage}
        handler._send_json(200, data, reply.headers)

    def _stream(self, handler: _Handler, reply: FakeReply, head: dict[str, Any],
                calls: list[dict[str, Any]], finish: str, usage: dict[str, int] | None) -> None:
        handler._send_head(200, "text/event-stream", {
            **reply.headers, "Cache-Control": "no-cache", "Transfer-Encoding": "chunked"})
        for number, chunk in enumerate(self._chunks(reply, head, calls, finish, usage)):
            if number > 1 and self._wait(reply.chunk_delay):  # role and first piece at once
                return
            if number == 2 and reply.drop:
                return  # the connection closes mid-answer, without the final chunk
            if number == 2 and reply.malformed:
                handler._send_event('{"id": "chatcmpl-broken", "choices": [{"delta": {"cont')
            handler._send_event(json.dumps(chunk) if isinstance(chunk, dict) else chunk)
        handler.wfile.write(b"0\r\n\r\n")

    def _chunks(self, reply: FakeReply, head: dict[str, Any], calls: list[dict[str, Any]],
                finish: str, usage: dict[str, int] | None) -> Iterator[dict[str, Any] | str]:
        if reply.raw is not None:
            yield from (reply.raw, "[DONE]")
            return
        extra = {"usage": None} if usage is not None else {}

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}

        if not reply.empty:
            yield chunk({"role": "assistant", "content": ""})
            for piece in _pieces(reply.text):
                yield chunk({"content": piece})
            for index, call in enumerate(calls):
                function = call["function"]
                yield chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                             "function": {"name": function["name"],
                                                          "arguments": ""}}]})
                args: str = function["arguments"]
                step = max(1, -(-len(args) // 3))
                for start in range(0, len(args), step):
                    part = {"arguments": args[start:start + step]}
                    yield chunk({"tool_calls": [{"index": index, "function": part}]})
            yield chunk({}, finish)
        if usage is not None:
            yield {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        yield "[DONE]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI-compatible chat API.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--answer", default=DEFAULT_ANSWER, help="what the fake model says")
    options = parser.parse_args(argv)
    with FakeOpenAI(options.port, FakeReply(text=options.answer)) as fake:
        print(f"fake OpenAI server at {fake.base_url} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
