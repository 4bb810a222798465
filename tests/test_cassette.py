"""Record / replay of LLM calls: what a cassette stores, and what replay serves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.errors import CassetteError, LLMReplayMiss, LLMTimeout
from engine.llm.cassette import HEADER, Cassette, RecordingBackend, ReplayBackend
from engine.llm.chat import ChatAnswer, ChatCall, TokenSink, ToolCall

SYSTEM = "You are the clinic's booking assistant.\nAnswer briefly.\nNever give medical advice."


class FakeBackend:
    """Answers from a table by the last user message, counting calls; streams by words."""

    name = "fake"
    where = "https://fake.invalid/v1"

    def __init__(self, answers: dict[str, ChatAnswer], fail: Exception | None = None) -> None:
        self.answers = answers
        self.fail = fail
        self.calls = 0

    def complete(self, call: ChatCall, on_token: TokenSink | None = None) -> ChatAnswer:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        answer = self.answers[call.messages[-1][1]]
        if on_token is None:
            return answer
        first, space, rest = answer.text.partition(" ")
        pieces = (first + space, rest) if rest else (answer.text,)
        for piece in pieces:
            on_token(piece)
        return ChatAnswer(answer.text, answer.tool_calls, answer.prompt_tokens,
                          answer.completion_tokens, answer.finish_reason, answer.model,
                          chunks=pieces)


def make_call(user: str, system: str = SYSTEM) -> ChatCall:
    return ChatCall(model="gpt-4o-mini", messages=(("system", system), ("user", user)),
                    temperature=0.2, max_tokens=200)


ANSWERS = {
    "When are you open?": ChatAnswer("We are open 9 to 5.", prompt_tokens=40,
                                     completion_tokens=7, finish_reason="stop",
                                     model="gpt-4o-mini-2024"),
    "Book me in": ChatAnswer("", tool_calls=(ToolCall("book", '{"day": "monday"}'),),
                             finish_reason="tool_calls"),
}


def record(path: Path, *users: str, stream: bool = False,
           secrets: tuple[str, ...] = ()) -> FakeBackend:
    inner = FakeBackend(ANSWERS)
    recorder = RecordingBackend(inner, Cassette.load(path), secrets)
    for user in users:
        recorder.complete(make_call(user), (lambda _piece: None) if stream else None)
    return inner


def test_record_then_replay_gives_the_same_answers_without_calling_the_model(
        tmp_path: Path) -> None:
    path = tmp_path / "clinic.yaml"
    inner = record(path, "When are you open?", "Book me in")
    assert inner.calls == 2

    replay = ReplayBackend(Cassette.load(path))
    for user in ("When are you open?", "Book me in"):
        answer = replay.complete(make_call(user))
        assert answer == ChatAnswer(**{**ANSWERS[user].__dict__, "replayed": True})
    assert inner.calls == 2


def test_recording_backend_names_itself_after_the_real_backend_and_the_cassette(
        tmp_path: Path) -> None:
    cassette = Cassette(tmp_path / "c.yaml")
    recorder = RecordingBackend(FakeBackend(ANSWERS), cassette)
    assert recorder.name == "fake"
    assert recorder.where == f"https://fake.invalid/v1, recording to {cassette.path}"
    replay = ReplayBackend(cassette)
    assert (replay.name, replay.where) == ("replay", str(cassette.path))


def test_the_file_is_readable_yaml_with_the_header_and_prompts_as_literal_blocks(
        tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "clinic.yaml"  # parent folders are created
    record(path, "When are you open?", "Book me in")
    text = path.read_text(encoding="utf-8")

    assert text.startswith(HEADER)
    assert "Holds no secrets." in text.splitlines()[0]
    assert ("content: |-\n        You are the clinic's booking assistant.\n"
            "        Answer briefly.\n") in text
    data = yaml.safe_load(text)
    assert data["version"] == 1
    first, second = data["interactions"]
    assert first["key"] == make_call("When are you open?").key()
    assert first["request"] == make_call("When are you open?").body()
    assert first["response"] == {"text": "We are open 9 to 5.", "prompt_tokens": 40,
                                 "completion_tokens": 7, "finish_reason": "stop",
                                 "model": "gpt-4o-mini-2024"}
    # empty fields are left out; tool calls keep their raw arguments
    assert second["response"] == {
        "tool_calls": [{"name": "book", "arguments": '{"day": "monday"}'}],
        "finish_reason": "tool_calls"}
    assert not list(tmp_path.rglob("*.tmp"))  # the atomic write left no temp file


def test_replay_streams_the_recorded_chunks_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    record(path, "When are you open?", "Book me in", stream=True)
    first, tool_only = yaml.safe_load(path.read_text())["interactions"]
    assert first["response"]["chunks"] == ["We ", "are open 9 to 5."]
    assert "chunks" not in tool_only["response"]  # a stream of one empty piece says nothing

    pieces: list[str] = []
    answer = ReplayBackend(Cassette.load(path)).complete(make_call("When are you open?"),
                                                         pieces.append)
    assert pieces == ["We ", "are open 9 to 5."]
    assert answer.text == "We are open 9 to 5." and answer.replayed


def test_an_answer_recorded_unstreamed_replays_streamed_in_word_pieces(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    record(path, "When are you open?")
    assert "chunks" not in yaml.safe_load(path.read_text())["interactions"][0]["response"]

    pieces: list[str] = []
    answer = ReplayBackend(Cassette.load(path)).complete(make_call("When are you open?"),
                                                         pieces.append)
    assert pieces == ["We ", "are ", "open ", "9 ", "to ", "5."]
    assert "".join(pieces) == answer.text


def test_strict_miss_shows_the_changed_prompt_line_and_how_to_re_record(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    record(path, "When are you open?", "Book me in")
    changed = make_call("When are you open?",
                        system=SYSTEM.replace("Answer briefly.", "Answer in full sentences."))

    with pytest.raises(CassetteError) as caught:
        ReplayBackend(Cassette.load(path)).complete(changed)
    message = caught.value.format()
    assert f"no recorded answer for this request in {path}" in message
    assert f"recorded {make_call('When are you open?').key()}" in message  # the nearest one
    assert "\n-        Answer briefly.\n" in message
    assert "\n+        Answer in full sentences.\n" in message
    assert "\n user: When are you open?" in message  # unchanged lines are context
    assert "FLOWBOT_LLM=record" in message and "flowbot run --llm record" in message


def test_strict_miss_on_a_missing_cassette_says_so(tmp_path: Path) -> None:
    path = tmp_path / "never-recorded.yaml"
    with pytest.raises(CassetteError, match="does not exist") as caught:
        ReplayBackend(Cassette.load(path)).complete(make_call("hi"))
    assert "FLOWBOT_LLM=record" in caught.value.format()


def test_strict_miss_on_an_empty_cassette_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    Cassette(path).save()
    with pytest.raises(CassetteError, match="is empty"):
        ReplayBackend(Cassette.load(path)).complete(make_call("hi"))


def test_lenient_miss_raises_llm_replay_miss_so_the_offline_provider_answers(
        tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    record(path, "Book me in")
    with pytest.raises(LLMReplayMiss) as caught:
        ReplayBackend(Cassette.load(path), strict=False).complete(make_call("hi"))
    assert caught.value.kind == "replay_miss"
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(("content", "complaint"), [
    ("version: 1\ninteractions: [\n", "not valid YAML at line"),
    ("key: 2024-13-45\n", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("version: 2\ninteractions: []\n", "unsupported cassette version 2"),
    ("version: 1\ninteractions: {}\n", "'interactions' must be a list"),
    ("version: 1\ninteractions:\n- key: abc\n  request: {model: m, messages: []}\n"
     "  response: {text: [not, text]}\n", "interaction 1: 'response.text' must be a string"),
    ("version: 1\ninteractions:\n- key: abc\n  request: {model: m}\n  response: {}\n",
     "interaction 1: 'request.messages'"),
    ("version: 1\ninteractions:\n- key: abc\n  request: {model: m, messages: []}\n"
     "  response: {txet: hi}\n", "unknown field 'response.txet'"),
])
def test_a_corrupt_cassette_is_a_cassette_error_naming_the_file_and_the_problem(
        tmp_path: Path, content: str, complaint: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CassetteError) as caught:
        Cassette.load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert complaint in str(caught.value)
    # no chained traceback from yaml's internals
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_an_unreadable_cassette_is_a_cassette_error(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(CassetteError, match="cannot read cassette"):
        Cassette.load(tmp_path / "dir.yaml")


def test_secrets_never_reach_the_file_but_the_recording_still_replays(tmp_path: Path) -> None:
    secret = "hunter2-clinic-token"
    openai_key = "sk-proj-AbCdEf0123456789_xyz"
    user = f"My token is {secret}, and the key is {openai_key}"
    answers = {user: ChatAnswer(f"Thanks, {secret} is noted.", chunks=())}
    inner = FakeBackend(answers)
    path = tmp_path / "c.yaml"
    recorder = RecordingBackend(inner, Cassette.load(path), secrets=(secret, ""))
    streamed: list[str] = []
    live = recorder.complete(make_call(user), streamed.append)
    assert secret in live.text  # the caller still gets the real answer

    text = path.read_text(encoding="utf-8")
    assert secret not in text and openai_key not in text and "sk-proj" not in text
    assert "My token is [redacted], and the key is [redacted]" in text
    assert "Thanks, [redacted] is noted." in text

    replayed = ReplayBackend(Cassette.load(path)).complete(make_call(user))
    assert replayed.text == "Thanks, [redacted] is noted."


def test_a_secret_split_across_streamed_chunks_is_still_scrubbed(tmp_path: Path) -> None:
    cassette = Cassette(tmp_path / "c.yaml")
    cassette.add(make_call("hi"), ChatAnswer("code abcd1234 ok", chunks=("code ab", "cd1234 ok")),
                 secrets=("abcd1234",))
    cassette.save()
    text = cassette.path.read_text(encoding="utf-8")
    assert "abcd1234" not in text and "ab\n" not in text and "cd1234" not in text
    answer = cassette.find(make_call("hi"))
    assert answer is not None and "".join(answer.chunks) == "code [redacted] ok"


def test_words_that_merely_contain_sk_dash_are_not_scrubbed(tmp_path: Path) -> None:
    cassette = Cassette(tmp_path / "c.yaml")
    cassette.add(make_call("Do a risk-assessment-2024 for me"), ChatAnswer("Done."))
    assert "risk-assessment-2024" in cassette.dumps()


def test_the_key_of_a_fixed_call_never_changes() -> None:
    # Hard-coded once: if this changes, every recorded cassette stops replaying.
    assert make_call("When are you open?").key() == "ea1d8421847bc10d"


def test_the_key_is_the_same_in_another_process() -> None:
    script = ("from engine.llm.chat import ChatCall\n"
              "print(ChatCall(model='m', messages=(('user', 'héllo'),), temperature=0.5,"
              " tools=({'type': 'function', 'function': {'name': 'f'}},)).key())")
    here = ChatCall(model="m", messages=(("user", "héllo"),), temperature=0.5,
                    tools=({"type": "function", "function": {"name": "f"}},)).key()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent,
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert out.stdout.strip() == here


def test_inner_failures_propagate_unchanged_and_are_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    failure = LLMTimeout("the model took longer than 20s")
    recorder = RecordingBackend(FakeBackend(ANSWERS, fail=failure), Cassette.load(path))
    with pytest.raises(LLMTimeout) as caught:
        recorder.complete(make_call("When are you open?"))
    assert caught.value is failure
    assert len(recorder.cassette) == 0
    assert not path.exists()


def test_re_recording_a_request_replaces_its_answer_in_place(tmp_path: Path) -> None:
    cassette = Cassette(tmp_path / "c.yaml")
    cassette.add(make_call("a"), ChatAnswer("first"))
    cassette.add(make_call("b"), ChatAnswer("other"))
    cassette.add(make_call("a"), ChatAnswer("second"))
    assert len(cassette) == 2
    assert cassette.keys() == [make_call("a").key(), make_call("b").key()]
    answer = cassette.find(make_call("a"))
    assert answer is not None and answer.text == "second" and answer.replayed


def test_nearest_is_none_for_an_empty_cassette_and_picks_the_most_similar_request(
        tmp_path: Path) -> None:
    cassette = Cassette(tmp_path / "c.yaml")
    assert cassette.nearest(make_call("hi")) is None
    cassette.add(make_call("How much is the blue car?"), ChatAnswer("10"))
    cassette.add(make_call("hello"), ChatAnswer("hi"))
    nearest = cassette.nearest(make_call("How much is the red car?"))
    assert nearest is not None
    key, diff = nearest
    assert key == make_call("How much is the blue car?").key()
    assert "-user: How much is the blue car?" in diff
    assert "+user: How much is the red car?" in diff
