"""`flowbot run` against an OpenAI-compatible server on 127.0.0.1, through the
real openai client: answers, failures, record and replay, and the API key kept
out of everything flowbot writes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.testing.fake_openai import FakeOpenAI, FakeReply

ROOT = Path(__file__).resolve().parent.parent
CARS = str(ROOT / "flows" / "cars.yaml")
QUESTION = "is the RAV4 any good for camping trips?"
SECRET = "sk-test-0123456789abcdefSECRET"


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(default=FakeReply("Yes: the RAV4 has room for a tent and all-wheel drive."))
    try:
        yield fake
    finally:
        fake.close()


def flowbot(*args: str, env: dict[str, str], input: str, timeout: float = 30) -> (
        subprocess.CompletedProcess[str]):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("OPENAI", "FLOWBOT"))} | {"NO_COLOR": "1"} | env
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], input=input,
                          capture_output=True, text=True, cwd=ROOT, env=full, timeout=timeout,
                          check=False)


def turns(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_an_open_ended_question_gets_the_local_servers_answer(server: FakeOpenAI) -> None:
    done = flowbot("run", "flows/cars.yaml", "--json", env={"OPENAI_BASE_URL": server.base_url},
                   input=f"show me suvs under 40k\n{QUESTION}\n")
    assert done.returncode == 0, done.stderr
    start, browse, answer = turns(done.stdout)
    assert f"via {server.base_url} (live)" in str(start["notices"])
    assert browse["route"] == "rule"
    assert answer["route"] == "llm" and answer["state"] == "browse"
    assert answer["replies"] == [{"text": "Yes: the RAV4 has room for a tent and all-wheel drive."}]
    llm = answer["llm"]
    assert isinstance(llm, dict) and llm["model"] == "gpt-4o-mini" and not llm["replayed"]
    assert llm["prompt_tokens"] > 0 and llm["completion_tokens"] > 0 and llm["latency_ms"] > 0
    (request,) = server.chat_requests  # the rule-routed turn asked nothing
    system = request.body["messages"][0]["content"]
    assert "The customer is browsing cars: body type suv" in system  # the state's prompt
    assert request.body["messages"][-1] == {"role": "user", "content": QUESTION}


def test_a_hanging_server_gets_the_fallback_within_the_timeout(server: FakeOpenAI) -> None:
    server.script(FakeReply(hang=True))
    began = time.monotonic()
    done = flowbot("run", "flows/cars.yaml", "--json",
                   env={"OPENAI_BASE_URL": server.base_url, "FLOWBOT_LLM_TIMEOUT": "0.5"},
                   input=f"{QUESTION}\nshow me suvs\n")
    assert time.monotonic() - began < 10
    assert done.returncode == 0 and "Traceback" not in done.stderr
    _, failed, after = turns(done.stdout)
    assert failed["route"] == "fallback" and "browse cars" in str(failed["replies"])
    assert failed["llm"]["error_kind"] == "timeout"  # type: ignore[index]
    assert after["state"] == "browse"  # the conversation went on


def test_a_server_that_is_down_gets_the_fallback(server: FakeOpenAI) -> None:
    url = server.base_url
    server.close()
    done = flowbot("run", "flows/cars.yaml", "--json", env={"OPENAI_BASE_URL": url},
                   input=f"{QUESTION}\n")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    failed = turns(done.stdout)[-1]
    assert failed["route"] == "fallback"
    assert failed["llm"]["error_kind"] == "connection"  # type: ignore[index]


def cli(*args: str, input: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_record_then_replay_serves_the_same_answer_with_no_server(
        server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = tmp_path / "cars.llm.yaml"
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    code, out, _ = cli("run", CARS, "--json", "--llm", "record", "--cassette", str(cassette),
                       input=f"{QUESTION}\n")
    assert code == 0
    recorded = turns(out)[-1]
    server.close()
    monkeypatch.delenv("OPENAI_BASE_URL")
    code, out, _ = cli("run", CARS, "--json", "--llm", "replay", "--cassette", str(cassette),
                       input=f"{QUESTION}\n")
    assert code == 0
    replayed = turns(out)[-1]
    assert replayed["replies"] == recorded["replies"] and replayed["route"] == "llm"
    assert replayed["llm"]["replayed"] is True  # type: ignore[index]
    assert "Yes: the RAV4" in cassette.read_text()


def test_a_strict_replay_miss_fails_clearly_and_a_lenient_one_answers_offline(
        tmp_path: Path) -> None:
    cassette = tmp_path / "empty.llm.yaml"
    code, _, err = cli("run", CARS, "--llm", "replay", "--cassette", str(cassette),
                       input=f"{QUESTION}\n")
    assert code == 1 and "no recorded answer" in err and "--llm record" in err
    assert "Traceback" not in err
    code, out, _ = cli("run", CARS, "--json", "--llm", "replay", "--lenient", "--cassette",
                       str(cassette), input=f"{QUESTION}\n")
    assert code == 0 and turns(out)[-1]["route"] == "fallback"


def test_the_api_key_never_appears_in_output_logs_cassettes_or_sessions(
        server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    server.script(
        FakeReply(status=401, error_message=f"Incorrect API key provided: {SECRET}"),
        FakeReply(f"A model that leaks the key it was called with: {SECRET}"),
    )
    cassette, session = tmp_path / "c.llm.yaml", tmp_path / "s.json"
    code, out, err = cli("run", CARS, "--json", "--llm", "record", "--cassette", str(cassette),
                         "--session", str(session),
                         input=f"{QUESTION}\ndo electric cars cope with cold winters?\n")
    assert code == 0
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {SECRET}"  # it was used
    written = [out, err, caplog.text, cassette.read_text(), session.read_text()]
    for text in written:
        assert SECRET not in text
    first = turns(out)[1]
    assert first["llm"]["error_kind"] == "server"  # type: ignore[index]
    assert "[redacted]" in str(first["llm"])


ODD_BODIES = [
    # tool arguments as a JSON object instead of JSON text
    {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [
        {"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None, "tool_calls": [
                {"id": "c", "type": "function",
                 "function": {"name": "choose_intent", "arguments": {"intent": "book"}}}]}}]},
    # the model named as an object, token counts as text
    {"id": "x", "object": "chat.completion", "created": 0, "model": {"name": "m"},
     "choices": [{"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": "Hello"}}],
     "usage": {"prompt_tokens": "many", "completion_tokens": 1, "total_tokens": 1}},
    {"choices": "all of them"},
]


@pytest.mark.parametrize("body", ODD_BODIES)
def test_oddly_typed_answers_get_the_fallback_not_a_traceback(
        server: FakeOpenAI, body: object, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(FakeReply(raw=json.dumps(body)))
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    code, out, err = cli("run", CARS, "--json", input="I fancy taking one out for a spin\n")
    assert code == 0 and "Traceback" not in err
    last = turns(out)[-1]
    assert last["route"] == "fallback"
    assert last["llm"]["error_kind"] == "bad_output"  # type: ignore[index]


def test_a_server_without_tools_is_asked_again_without_the_router(
        server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script(FakeReply(status=400, error_message="llama3 does not support tools"))
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    code, out, _ = cli("run", CARS, "--json",
                       input="I fancy taking one out for a spin\nand something roomy\n")
    assert code == 0
    first, second = turns(out)[1:]
    assert first["route"] == "llm" and first["llm"]["calls"] == 2  # type: ignore[index]
    assert [bool(r.body.get("tools")) for r in server.chat_requests] == [True, False, False]
    assert second["route"] == "llm"
