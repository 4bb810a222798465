"""The live backend, exercised with the real openai client against FakeOpenAI on
127.0.0.1: answers (plain, streamed, tool calls), what is sent, and how every
failure maps to an LLMError, with bounded retries and no key in any message."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from engine.errors import (
    LLMBadOutput,
    LLMConnectionError,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
)
from engine.llm.chat import ChatCall, ToolCall
from engine.llm.openai_backend import OpenAIBackend
from engine.testing.fake_openai import FakeOpenAI, FakeReply

KEY = "sk-test-0123456789abcdef"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALL = ChatCall(
    model="gpt-test",
    messages=(("system", "You sell cars."), ("user", "Which car is best for a family?")),
    temperature=0.2,
    max_tokens=120,
)
TOOL_CALL = ChatCall(model="gpt-test", messages=(("user", "Weather in Paris?"),),
                     tools=(WEATHER_TOOL,), tool_choice="auto")


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake_server:
        yield fake_server


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


_SLEEP = RecordingSleep()  # shared by the cached backends; emptied for every test


@pytest.fixture
def sleep() -> RecordingSleep:
    _SLEEP.waits.clear()
    return _SLEEP


BackendFactory = Callable[..., OpenAIBackend]


@pytest.fixture(scope="module")
def backends(server: FakeOpenAI) -> Iterator[dict[str, OpenAIBackend]]:
    """Backends by their options: each one builds a client (and loads the CA
    certificates, ~30 ms), so tests share them."""
    made: dict[str, OpenAIBackend] = {}
    yield made
    for backend in made.values():
        backend.close()


@pytest.fixture
def make_backend(fake: FakeOpenAI, sleep: RecordingSleep,
                 backends: dict[str, OpenAIBackend]) -> BackendFactory:
    def make(**options: object) -> OpenAIBackend:
        settings: dict[str, object] = {"api_key": KEY, "base_url": fake.base_url,
                                       "timeout": 2.0, "sleep": sleep}
        settings.update(options)
        key = repr(sorted(settings.items()))
        if key not in backends:
            backends[key] = OpenAIBackend(**settings)  # type: ignore[arg-type]
        return backends[key]

    return make


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- answers --------------------------------------------------------------------------------


def test_plain_answer_carries_text_usage_finish_reason_and_model(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    fake.script(FakeReply(text="The Tourer seats seven.", prompt_tokens=31, completion_tokens=6))
    answer = make_backend().complete(CALL)
    assert answer.text == "The Tourer seats seven."
    assert (answer.prompt_tokens, answer.completion_tokens) == (31, 6)
    assert answer.finish_reason == "stop"
    assert answer.model == "gpt-test"
    assert answer.tool_calls == ()
    assert answer.chunks == ()


def test_usage_is_estimated_by_the_fake_when_not_scripted(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    answer = make_backend().complete(CALL)
    prompt_chars = sum(len(content) for _, content in CALL.messages)
    assert answer.prompt_tokens == round(prompt_chars / 4)
    assert answer.completion_tokens >= 1


def test_streamed_answer_sends_tokens_in_order_and_reads_usage_from_the_stream(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    fake.script(FakeReply(text="The Tourer seats seven people.", prompt_tokens=40,
                          completion_tokens=7))
    tokens: list[str] = []
    answer = make_backend().complete(CALL, on_token=tokens.append)
    assert tokens == ["The ", "Tourer ", "seats ", "seven ", "people."]
    assert answer.chunks == tuple(tokens)
    assert answer.text == "The Tourer seats seven people."
    assert (answer.prompt_tokens, answer.completion_tokens) == (40, 7)
    assert answer.finish_reason == "stop"
    assert answer.model == "gpt-test"


def test_tool_call_answer_unstreamed(fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    fake.script(FakeReply(text="", tool_calls=[("get_weather", '{"city": "Paris"}')]))
    answer = make_backend().complete(TOOL_CALL)
    assert answer.tool_calls == (ToolCall("get_weather", '{"city": "Paris"}'),)
    assert answer.finish_reason == "tool_calls"
    assert answer.text == ""


def test_tool_call_answer_streamed_joins_the_argument_pieces(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    fake.script(FakeReply(text="", tool_calls=[("get_weather", '{"city": "Paris"}'),
                                               ("get_time", '{"zone": "CET"}')]))
    tokens: list[str] = []
    answer = make_backend().complete(TOOL_CALL, on_token=tokens.append)
    assert answer.tool_calls == (ToolCall("get_weather", '{"city": "Paris"}'),
                                 ToolCall("get_time", '{"zone": "CET"}'))
    assert answer.finish_reason == "tool_calls"
    assert tokens == []


# -- what is sent ---------------------------------------------------------------------------


def test_request_body_is_exactly_the_calls_body(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    make_backend().complete(CALL)
    make_backend().complete(TOOL_CALL)
    first, second = (request.body for request in fake.chat_requests)
    assert first == CALL.body()
    assert first["messages"][1] == {"role": "user", "content": "Which car is best for a family?"}
    assert (first["temperature"], first["max_tokens"]) == (0.2, 120)
    assert second == TOOL_CALL.body()
    assert second["tools"] == [WEATHER_TOOL]


def test_streamed_request_adds_stream_and_asks_for_usage(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    make_backend().complete(CALL, on_token=lambda _: None)
    (request,) = fake.chat_requests
    assert request.body == {**CALL.body(), "stream": True,
                            "stream_options": {"include_usage": True}}


def test_authorization_header_carries_the_given_key(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    make_backend().complete(CALL)
    make_backend(api_key=None).complete(CALL)
    with_key, without_key = fake.chat_requests
    assert with_key.headers["authorization"] == f"Bearer {KEY}"
    assert without_key.headers["authorization"] == "Bearer not-needed"


def test_where_names_the_base_url_in_use(
        fake: FakeOpenAI, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert make_backend().where == fake.base_url
    assert make_backend(base_url=None).where == "https://api.openai.com/v1"
    assert make_backend(base_url="http://me:secret@127.0.0.1:9/v1").where == \
        "http://[redacted]@127.0.0.1:9/v1"


# -- timeouts and connections ---------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_hanging_server_times_out_after_the_timeout_without_retrying(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep,
        streamed: bool) -> None:
    fake.default = FakeReply(hang=True)
    backend = make_backend(timeout=0.3, retries=2)
    started = time.monotonic()
    with pytest.raises(LLMTimeout, match=r"did not answer within 0\.3 s \(timeout\)"):
        backend.complete(CALL, on_token=(lambda _: None) if streamed else None)
    assert 0.25 < time.monotonic() - started < 1.5
    assert len(fake.chat_requests) == 1
    assert sleep.waits == []


def test_stream_that_stalls_mid_answer_times_out_and_is_not_retried(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    fake.script(FakeReply(text="Slow words here.", chunk_delay=0.05),
                FakeReply(text="Slow words here.", chunk_delay=0.6))
    tokens: list[str] = []
    backend = make_backend(timeout=0.3, retries=2)
    assert backend.complete(CALL, on_token=tokens.append).text == "Slow words here."
    with pytest.raises(LLMTimeout, match=r"stopped answering mid-answer for 0\.3 s"):
        backend.complete(CALL, on_token=tokens.append)
    assert tokens[-1] == "Slow "
    assert len(fake.chat_requests) == 2


def test_server_that_is_down_raises_connection_error_after_one_short_retry(
        make_backend: BackendFactory, sleep: RecordingSleep) -> None:
    base_url = f"http://127.0.0.1:{unused_port()}/v1"
    with pytest.raises(LLMConnectionError) as raised:
        make_backend(base_url=base_url, retries=1).complete(CALL)
    assert str(raised.value) == f"the model server at {base_url} refused the connection"
    assert sleep.waits == [0.5]


def test_connection_dropped_before_answering_is_retried(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep) -> None:
    fake.script(FakeReply(drop=True))
    assert make_backend().complete(CALL).text == "This is the fake model's answer."
    assert len(fake.chat_requests) == 2
    assert sleep.waits == [0.5]


def test_connection_dropped_mid_stream_raises_and_is_not_retried_once_text_was_shown(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep) -> None:
    fake.script(FakeReply(text="Half of an answer.", drop=True))
    tokens: list[str] = []
    with pytest.raises(LLMConnectionError, match="broke mid-answer"):
        make_backend(retries=3).complete(CALL, on_token=tokens.append)
    assert tokens == ["Half "]
    assert len(fake.chat_requests) == 1
    assert sleep.waits == []


# -- rate limits and server errors ----------------------------------------------------------


def test_rate_limit_with_short_retry_after_waits_that_long_and_retries(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep) -> None:
    fake.script(FakeReply(status=429, headers={"Retry-After": "0.1"}))
    answer = make_backend().complete(CALL)
    assert answer.text == "This is the fake model's answer."
    assert sleep.waits == [0.1]
    assert len(fake.chat_requests) == 2


@pytest.mark.parametrize("header, value, expected", [
    ("retry-after-ms", "250", 0.25),
    ("Retry-After", "in 3 s as an HTTP date", 3.0),
], ids=["milliseconds", "http-date"])
def test_rate_limit_wait_is_read_from_other_header_forms(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep,
        header: str, value: str, expected: float) -> None:
    if value.endswith("HTTP date"):
        value = email.utils.formatdate(time.time() + expected, usegmt=True)
    fake.script(FakeReply(status=429, headers={header: value}))
    make_backend().complete(CALL)
    (wait,) = sleep.waits
    assert wait == pytest.approx(expected, abs=1.1)


def test_rate_limit_with_long_retry_after_fails_at_once_without_sleeping(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep) -> None:
    fake.script(FakeReply(status=429, headers={"Retry-After": "60"},
                          error_message="Rate limit reached for requests"))
    with pytest.raises(LLMRateLimited) as raised:
        make_backend(retries=3).complete(CALL)
    assert raised.value.retry_after == 60
    assert "429" in str(raised.value) and "Rate limit reached" in str(raised.value)
    assert sleep.waits == []
    assert len(fake.chat_requests) == 1


def test_rate_limit_without_retry_after_backs_off_briefly(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep) -> None:
    fake.script(FakeReply(status=429), FakeReply(status=429))
    with pytest.raises(LLMRateLimited) as raised:
        make_backend(retries=1, max_retry_wait=0.2).complete(CALL)
    assert raised.value.retry_after is None
    assert sleep.waits == [0.2]


def test_server_error_then_success_is_retried(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep) -> None:
    fake.script(FakeReply(status=503, error_message="overloaded"))
    assert make_backend(retries=1).complete(CALL).text == "This is the fake model's answer."
    assert len(fake.chat_requests) == 2
    assert sleep.waits == [0.5]


def test_server_error_on_every_attempt_raises_server_error(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    fake.script(*[FakeReply(status=503, error_message="The engine is overloaded.")] * 2)
    with pytest.raises(LLMServerError) as raised:
        make_backend(retries=1).complete(CALL)
    assert raised.value.status == 503
    assert str(raised.value) == "the model server answered 503: The engine is overloaded."
    assert len(fake.chat_requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(
        fake: FakeOpenAI, make_backend: BackendFactory, sleep: RecordingSleep,
        status: int) -> None:
    fake.script(FakeReply(status=status, error_message="Nope."))
    with pytest.raises(LLMServerError) as raised:
        make_backend(retries=2).complete(CALL)
    assert raised.value.status == status
    assert len(fake.chat_requests) == 1
    assert sleep.waits == []


def test_error_messages_never_contain_the_api_key(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    other_key = "sk-proj-AbCdEfGh12345678"
    fake.script(FakeReply(status=401, error_message=f"Incorrect API key provided: {KEY}. "
                                                    f"Also not {other_key}."))
    with pytest.raises(LLMServerError) as raised:
        make_backend().complete(CALL)
    message = str(raised.value)
    assert KEY not in message and other_key not in message
    assert "[redacted]" in message
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_error_raised_by_on_token_reaches_the_caller_unchanged(
        fake: FakeOpenAI, make_backend: BackendFactory) -> None:
    def broken_sink(piece: str) -> None:
        raise ValueError("the display broke")

    with pytest.raises(ValueError, match="the display broke"):
        make_backend(retries=2).complete(CALL, on_token=broken_sink)
    assert len(fake.chat_requests) == 1


# -- unusable output ------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("reply, reason", [
    (FakeReply(malformed=True), "not valid JSON"),
    (FakeReply(empty=True), "no choices|ended before it was finished"),
    (FakeReply(text=""), "empty message"),
    (FakeReply(text="   "), "empty message"),
], ids=["malformed", "no-choices", "empty-content", "blank-content"])
def test_unusable_answers_are_bad_output_and_not_retried(
        fake: FakeOpenAI, make_backend: BackendFactory, reply: FakeReply, reason: str,
        streamed: bool) -> None:
    fake.script(reply)
    with pytest.raises(LLMBadOutput, match=reason):
        make_backend(retries=2).complete(CALL, on_token=(lambda _: None) if streamed else None)
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("raw", [
    '{"object": "chat.completion"}',
    '{"choices": [{"index": 0}]}',
    '{"choices": "many"}',
    '[1, 2, 3]',
    '"just a string"',
], ids=["no-choices-key", "choice-without-message", "choices-not-a-list", "list", "string"])
def test_json_that_is_not_a_chat_completion_is_bad_output(
        fake: FakeOpenAI, make_backend: BackendFactory, raw: str, streamed: bool) -> None:
    fake.script(FakeReply(raw=raw))
    with pytest.raises(LLMBadOutput):
        make_backend().complete(CALL, on_token=(lambda _: None) if streamed else None)
