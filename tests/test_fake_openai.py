"""FakeOpenAI on its own, spoken to with plain http.client: the response shapes
the real API uses, scripting, recording, and a close() that never hangs."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.testing.fake_openai import DEFAULT_ANSWER, FakeOpenAI, FakeReply, estimate_tokens

ROOT = Path(__file__).resolve().parent.parent
HELLO = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hello, how are you?"}]}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def send(port: int, method: str, path: str, body: Any = None,
         raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        payload = raw if raw is not None else (None if body is None else json.dumps(body))
        connection.request(method, path, body=payload,
                           headers={"Content-Type": "application/json",
                                    "Authorization": "Bearer sk-demo"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def events(payload: bytes) -> list[Any]:
    """The data of each server-sent event, parsed (except the final [DONE])."""
    lines = [line for line in payload.decode().split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    data = [line.removeprefix("data: ") for line in lines]
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


def test_answer_has_the_full_chat_completion_shape(fake: FakeOpenAI) -> None:
    status, headers, payload = send(fake.port, "POST", "/v1/chat/completions", HELLO)
    assert status == 200 and headers["content-type"] == "application/json"
    answer = json.loads(payload)
    assert answer["object"] == "chat.completion"
    assert answer["id"].startswith("chatcmpl-") and isinstance(answer["created"], int)
    assert answer["model"] == "gpt-test"
    (choice,) = answer["choices"]
    assert choice["message"] == {"role": "assistant", "content": DEFAULT_ANSWER, "refusal": None}
    assert choice["finish_reason"] == "stop"
    usage = answer["usage"]
    assert usage["prompt_tokens"] == estimate_tokens("Hello, how are you?")
    assert usage["completion_tokens"] == estimate_tokens(DEFAULT_ANSWER)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_tool_calls_are_answered_with_ids_and_finish_reason(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(text="", tool_calls=[("lookup", '{"q": "x"}')]))
    _, _, payload = send(fake.port, "POST", "/v1/chat/completions", HELLO)
    (choice,) = json.loads(payload)["choices"]
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "lookup", "arguments": '{"q": "x"}'}
    assert choice["finish_reason"] == "tool_calls"


def test_stream_sends_role_then_words_then_finish_then_usage_then_done(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(text="Fine, thank you.", completion_tokens=4))
    body = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    status, headers, payload = send(fake.port, "POST", "/v1/chat/completions", body)
    assert status == 200 and headers["content-type"] == "text/event-stream"
    chunks = events(payload)
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [d["content"] for d in deltas[1:-1]] == ["Fine, ", "thank ", "you."]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4


def test_stream_without_include_usage_sends_no_usage_chunk(fake: FakeOpenAI) -> None:
    _, _, payload = send(fake.port, "POST", "/v1/chat/completions", {**HELLO, "stream": True})
    chunks = events(payload)
    assert all(chunk["choices"] and "usage" not in chunk for chunk in chunks)


def test_streamed_tool_call_sends_name_first_then_arguments_in_pieces(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(text="", tool_calls=[("lookup", '{"query": "opening hours"}')]))
    _, _, payload = send(fake.port, "POST", "/v1/chat/completions", {**HELLO, "stream": True})
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in events(payload)
             if "tool_calls" in c["choices"][0]["delta"]]
    assert calls[0]["function"] == {"name": "lookup", "arguments": ""}
    assert calls[0]["id"].startswith("call_") and calls[0]["index"] == 0
    assert len(calls) > 2
    assert "".join(c["function"]["arguments"] for c in calls) == '{"query": "opening hours"}'


def test_error_status_uses_the_openai_error_shape_and_headers(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(status=429, headers={"Retry-After": "2"}, error_message="Slow down."))
    status, headers, payload = send(fake.port, "POST", "/v1/chat/completions", HELLO)
    assert status == 429 and headers["retry-after"] == "2"
    error = json.loads(payload)["error"]
    assert error["message"] == "Slow down."
    assert error["type"] and error["code"] == "rate_limit_exceeded"


def test_unknown_path_answers_404_in_the_openai_error_shape(fake: FakeOpenAI) -> None:
    status, _, payload = send(fake.port, "POST", "/v1/completions", HELLO)
    assert status == 404
    assert set(json.loads(payload)["error"]) >= {"message", "type", "code"}


def test_body_that_is_not_json_gets_400(fake: FakeOpenAI) -> None:
    status, _, payload = send(fake.port, "POST", "/v1/chat/completions", raw=b"{nope")
    assert status == 400 and "JSON" in json.loads(payload)["error"]["message"]


def test_models_endpoint_lists_the_fake_model(fake: FakeOpenAI) -> None:
    status, _, payload = send(fake.port, "GET", "/v1/models")
    assert status == 200 and json.loads(payload)["data"][0]["id"] == "fake-model"


def test_every_request_is_recorded_with_body_and_headers(fake: FakeOpenAI) -> None:
    send(fake.port, "POST", "/v1/chat/completions", HELLO)
    send(fake.port, "GET", "/v1/models")
    first, second = fake.requests
    assert (first.method, first.path, first.body) == ("POST", "/v1/chat/completions", HELLO)
    assert first.headers["authorization"] == "Bearer sk-demo"
    assert (second.method, second.path, second.body) == ("GET", "/v1/models", None)
    assert fake.chat_requests == [first]


def test_script_answers_in_order_then_the_default_takes_over(fake: FakeOpenAI) -> None:
    fake.script(FakeReply(text="one"), FakeReply(text="two"))
    texts = [json.loads(send(fake.port, "POST", "/v1/chat/completions", HELLO)[2])
             ["choices"][0]["message"]["content"] for _ in range(3)]
    assert texts == ["one", "two", DEFAULT_ANSWER]


def test_default_can_answer_from_the_request(fake: FakeOpenAI) -> None:
    fake.default = lambda body: FakeReply(text=f"You said: {body['messages'][-1]['content']}")
    _, _, payload = send(fake.port, "POST", "/v1/chat/completions", HELLO)
    assert json.loads(payload)["choices"][0]["message"]["content"] == \
        "You said: Hello, how are you?"


def test_reset_forgets_requests_script_and_default(fake: FakeOpenAI) -> None:
    fake.default = FakeReply(text="custom")
    fake.script(FakeReply(status=500))
    send(fake.port, "GET", "/v1/models")
    fake.reset()
    assert fake.requests == []
    _, _, payload = send(fake.port, "POST", "/v1/chat/completions", HELLO)
    assert json.loads(payload)["choices"][0]["message"]["content"] == DEFAULT_ANSWER


def test_close_does_not_wait_for_a_hanging_answer() -> None:
    fake = FakeOpenAI(default=FakeReply(hang=True))
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            send(fake.port, "POST", "/v1/chat/completions", HELLO)
        except (http.client.HTTPException, OSError) as error:
            outcome.append(error)

    asker = threading.Thread(target=ask)
    asker.start()
    deadline = time.monotonic() + 2
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.005)
    started = time.monotonic()
    fake.close()
    assert time.monotonic() - started < 0.5
    asker.join(timeout=2)
    assert not asker.is_alive()
    assert isinstance(outcome[0], http.client.RemoteDisconnected)


def test_command_line_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.testing.fake_openai", "--port", "0", "--answer", "Hi!"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        base_url = line.split()[4]
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        _, _, payload = send(port, "POST", "/v1/chat/completions", HELLO)
        assert json.loads(payload)["choices"][0]["message"]["content"] == "Hi!"
        process.send_signal(2)  # Ctrl-C
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
