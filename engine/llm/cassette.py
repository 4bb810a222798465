"""Record and replay of LLM calls in a readable YAML cassette.

Recording runs the live model once and writes every request with its answer;
replay serves those answers with no network, so flow tests that reach the model
are fast, free and deterministic. A cassette is meant to be read in review:
prompts are written as literal blocks, empty answer fields are left out, and
secrets are scrubbed before anything is stored.

A request is found again by `ChatCall.key()`, the hash of the original (not
the scrubbed) request, so scrubbing never stops a recording from replaying.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.errors import CassetteError, LLMReplayMiss
from engine.files import write_atomically
from engine.llm.chat import ChatAnswer, ChatBackend, ChatCall, TokenSink, ToolCall
from engine.llm.redact import redact

HEADER = ("# flowbot LLM cassette: recorded requests and answers, replayed by FLOWBOT_LLM=replay."
          " Holds no secrets.\n")
VERSION = 1
RERECORD_HINT = "To re-record, run with FLOWBOT_LLM=record (or `flowbot run --llm record`)."

_RESPONSE_FIELDS = ("text", "tool_calls", "prompt_tokens", "completion_tokens",
                    "finish_reason", "model", "chunks")

# Long prompt lines stay on one line: folded lines would make review diffs noisy.
_NO_FOLDING = 1_000_000


@dataclass(frozen=True)
class _Interaction:
    key: str
    request: dict[str, Any]  # the request body as stored (scrubbed)
    answer: ChatAnswer  # as it replays: scrubbed, replayed=True


class _Redactor:
    """Applies engine.llm.redact to every string of a JSON-like value."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(secrets)

    def text(self, value: str) -> str:
        return redact(value, self._secrets)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        return value

    def chunks(self, chunks: tuple[str, ...]) -> tuple[str, ...]:
        """Scrub streamed pieces. A secret split across two pieces is in neither,
        so when scrubbing piece by piece misses something the scrubbed whole text
        is cut into fresh word pieces instead."""
        whole = self.text("".join(chunks))
        # Empty pieces (a stream of only tool calls sends some) tell a listener nothing.
        pieces = tuple(piece for piece in map(self.text, chunks) if piece)
        return pieces if "".join(pieces) == whole else tuple(word_pieces(whole))


# libyaml's loader when present: a test run loads every cassette it replays, ~5x
# faster. Its dumper is not used: it escapes emoji and would give up the `|` blocks.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CassetteDumper(yaml.SafeDumper):
    """A safe dumper that writes multi-line strings as literal `|` blocks, so a
    prompt reads in the file as it was written."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # anchors and aliases would only make the file harder to read


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CassetteDumper.add_representer(str, _represent_str)


def word_pieces(text: str) -> list[str]:
    """Split text into words, each keeping the whitespace after it, so the pieces
    join back to exactly the text. Used to stream an answer recorded unstreamed."""
    return re.findall(r"^\s+|\S+\s*", text)


def request_lines(body: Mapping[str, Any]) -> list[str]:
    """A request as text lines for a diff: model, then the other parameters in a
    fixed order, then each message as "role: content" (continuation lines indented)."""
    lines = [f"model: {body.get('model')}"]
    for name in sorted(k for k in body if k not in ("model", "messages", "tools")):
        value = body[name]
        lines.append(f"{name}: {value if isinstance(value, str) else _compact(value)}")
    tools = body.get("tools")
    if isinstance(tools, list):
        lines.extend(f"tool: {_compact(tool)}" for tool in tools)
    for message in body.get("messages") or ():
        role, content = str(message.get("role")), str(message.get("content"))
        first, *rest = content.split("\n")
        lines.append(f"{role}: {first}")
        lines.extend(" " * (len(role) + 2) + line for line in rest)
    return lines


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _plain(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as plain JSON data: tuples become lists, which YAML writes plainly."""
    plain: dict[str, Any] = json.loads(json.dumps(body))
    return plain


def _response_data(answer: ChatAnswer) -> dict[str, Any]:
    """The answer as stored, leaving out empty fields so a reviewer sees only what matters."""
    data: dict[str, Any] = {}
    if answer.text:
        data["text"] = answer.text
    if answer.tool_calls:
        data["tool_calls"] = [{"name": t.name, "arguments": t.arguments}
                              for t in answer.tool_calls]
    if answer.prompt_tokens:
        data["prompt_tokens"] = answer.prompt_tokens
    if answer.completion_tokens:
        data["completion_tokens"] = answer.completion_tokens
    if answer.finish_reason is not None:
        data["finish_reason"] = answer.finish_reason
    if answer.model is not None:
        data["model"] = answer.model
    if answer.chunks:
        data["chunks"] = list(answer.chunks)
    return data


class Cassette:
    """The recorded interactions of one cassette file, in the order first recorded.

    Safe to share between threads: sessions may run turns in parallel.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._interactions: dict[str, _Interaction] = {}  # by key; re-recording keeps the place
        self._lock = threading.RLock()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read a cassette; a missing file is an empty cassette (recording starts it)."""
        cassette = cls(path)
        try:
            text = cassette.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cassette
        except UnicodeDecodeError:
            raise CassetteError(f"{cassette.path}: cannot read cassette: not UTF-8 text") from None
        except OSError as exc:
            raise CassetteError(
                f"{cassette.path}: cannot read cassette: {exc.strerror or exc}") from None
        for interaction in _parse(cassette.path, _load_yaml(cassette.path, text)):
            cassette._interactions[interaction.key] = interaction
        return cassette

    def __len__(self) -> int:
        with self._lock:
            return len(self._interactions)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._interactions)

    def find(self, call: ChatCall) -> ChatAnswer | None:
        """The recorded answer to exactly this request, marked replayed, or None."""
        with self._lock:
            found = self._interactions.get(call.key())
        return None if found is None else found.answer

    def add(self, call: ChatCall, answer: ChatAnswer, secrets: Iterable[str] = ()) -> None:
        """Record an answer (replacing any earlier one for the same request), with
        every secret and anything shaped like an OpenAI key scrubbed from it."""
        redactor = _Redactor(secrets)
        request = redactor.data(_plain(call.body()))
        stored = dataclasses.replace(
            answer,
            text=redactor.text(answer.text),
            tool_calls=tuple(ToolCall(redactor.text(t.name), redactor.text(t.arguments))
                             for t in answer.tool_calls),
            finish_reason=None if answer.finish_reason is None
            else redactor.text(answer.finish_reason),
            model=None if answer.model is None else redactor.text(answer.model),
            chunks=redactor.chunks(answer.chunks),
            replayed=True,
        )
        key = call.key()
        with self._lock:
            self._interactions[key] = _Interaction(key, request, stored)

    def dumps(self) -> str:
        """The file's text: the header comment, then the YAML document."""
        with self._lock:
            interactions = [
                {"key": it.key, "request": it.request, "response": _response_data(it.answer)}
                for it in self._interactions.values()
            ]
        document = yaml.dump({"version": VERSION, "interactions": interactions},
                             Dumper=_CassetteDumper, default_flow_style=False,
                             allow_unicode=True, sort_keys=False, width=_NO_FOLDING)
        return HEADER + document

    def save(self) -> None:
        """Write the file atomically, so a crash mid-write never leaves half a cassette."""
        with self._lock:
            _write_atomically(self.path, self.dumps())

    def nearest(self, call: ChatCall) -> tuple[str, str] | None:
        """The key of the recorded request most like this one, and a unified diff
        from it to this one; None when nothing is recorded."""
        wanted = request_lines(_Redactor(()).data(_plain(call.body())))
        with self._lock:
            candidates = list(self._interactions.values())
        best: tuple[tuple[float, float], _Interaction, list[str]] | None = None
        for interaction in candidates:
            lines = request_lines(interaction.request)
            score = (difflib.SequenceMatcher(None, lines, wanted, autojunk=False).ratio(),
                     # breaks ties between requests that differ in the same lines
                     difflib.SequenceMatcher(None, "\n".join(lines), "\n".join(wanted)).ratio())
            if best is None or score > best[0]:
                best = (score, interaction, lines)
        if best is None:
            return None
        _, interaction, lines = best
        diff = difflib.unified_diff(lines, wanted, fromfile=f"recorded {interaction.key}",
                                    tofile="this request", lineterm="")
        return interaction.key, "\n".join(diff)


def _load_yaml(path: Path, text: str) -> Any:
    """Parse the text, turning any YAML failure into one line naming the file and place."""
    try:
        return yaml.load(text, Loader=_FAST_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CassetteError(
            f"{path}: not valid YAML{where}: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # ValueError: a scalar that looks like a date but is not one (2024-13-01)
        raise CassetteError(f"{path}: not valid YAML: {exc}") from None


def _parse(path: Path, raw: Any) -> list[_Interaction]:
    if raw is None:
        return []  # an empty file: nothing recorded yet
    if not isinstance(raw, dict):
        raise CassetteError(f"{path}: expected a mapping with 'version' and 'interactions'")
    version = raw.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise CassetteError(
            f"{path}: unsupported cassette version {version!r} (this flowbot reads {VERSION})")
    items = raw.get("interactions")
    if items is None:
        return []
    if not isinstance(items, list):
        raise CassetteError(f"{path}: 'interactions' must be a list")
    return [_parse_interaction(path, f"interaction {n}", item)
            for n, item in enumerate(items, start=1)]


def _parse_interaction(path: Path, where: str, item: Any) -> _Interaction:
    def bad(problem: str) -> CassetteError:
        return CassetteError(f"{path}: {where}: {problem}")

    if not isinstance(item, dict):
        raise bad("expected a mapping with 'key', 'request' and 'response'")
    key = item.get("key")
    if not isinstance(key, str) or not key:
        raise bad("'key' must be a non-empty string")
    request = item.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("model"), str):
        raise bad("'request' must be a mapping with a 'model' string")
    messages = request.get("messages")
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str) for m in messages):
        raise bad("'request.messages' must be a list of {role, content} strings")
    response = item.get("response")
    if response is None:
        response = {}
    if not isinstance(response, dict):
        raise bad("'response' must be a mapping")
    unknown = sorted(str(k) for k in response if k not in _RESPONSE_FIELDS)
    if unknown:
        raise bad(f"unknown field 'response.{unknown[0]}'")
    return _Interaction(key, request, _parse_answer(response, bad))


def _parse_answer(data: dict[Any, Any], bad: Callable[[str], CassetteError]) -> ChatAnswer:
    def string(name: str) -> str | None:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise bad(f"'response.{name}' must be a string")
        return value

    def count(name: str) -> int:
        value = data.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(f"'response.{name}' must be a whole number, 0 or more")
        return value

    tool_calls = data.get("tool_calls") or []
    if not isinstance(tool_calls, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str)
            and isinstance(t.get("arguments"), str) for t in tool_calls):
        raise bad("'response.tool_calls' must be a list of {name, arguments} strings")
    chunks = data.get("chunks") or []
    if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
        raise bad("'response.chunks' must be a list of strings")
    return ChatAnswer(
        text=string("text") or "",
        tool_calls=tuple(ToolCall(t["name"], t["arguments"]) for t in tool_calls),
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
        finish_reason=string("finish_reason"),
        model=string("model"),
        replayed=True,
        chunks=tuple(chunks),
    )


def _write_atomically(path: Path, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise CassetteError(f"{path}: cannot write cassette: {exc.strerror or exc}") from None


class RecordingBackend:
    """Calls the real backend and records each answer, saving after every one so an
    interrupted recording keeps what it got. Failures pass through unrecorded."""

    def __init__(self, inner: ChatBackend, cassette: Cassette,
                 secrets: tuple[str, ...] = ()) -> None:
        self.inner = inner
        self.cassette = cassette
        self.secrets = secrets
        self.name = inner.name
        self.where = f"{inner.where}, recording to {cassette.path}"

    def complete(self, call: ChatCall, on_token: TokenSink | None = None) -> ChatAnswer:
        streamed: list[str] = []
        sink: TokenSink | None = None
        if on_token is not None:
            forward = on_token

            def capture(piece: str) -> None:
                streamed.append(piece)
                forward(piece)

            sink = capture
        answer = self.inner.complete(call, sink)
        # The chunks as the caller saw them, in case the inner backend did not keep them.
        recorded = answer if answer.chunks or not streamed else dataclasses.replace(
            answer, chunks=tuple(streamed))
        self.cassette.add(call, recorded, self.secrets)
        self.cassette.save()
        return answer


class ReplayBackend:
    """Serves recorded answers with no network.

    Strict replay (for tests) fails loudly on a request it has no recording for,
    showing how the request changed; lenient replay raises LLMReplayMiss, an
    LLMError, so the turn falls back as it would with no model.
    """

    name = "replay"

    def __init__(self, cassette: Cassette, strict: bool = True) -> None:
        self.cassette = cassette
        self.strict = strict
        self.where = str(cassette.path)

    def complete(self, call: ChatCall, on_token: TokenSink | None = None) -> ChatAnswer:
        answer = self.cassette.find(call)
        if answer is None:
            if self.strict:
                raise CassetteError(self._miss_message(call), hint=RERECORD_HINT)
            raise LLMReplayMiss(f"no recorded answer for this request in {self.cassette.path}")
        if on_token is None:
            return answer
        pieces = answer.chunks or tuple(word_pieces(answer.text))
        for piece in pieces:
            on_token(piece)
        return dataclasses.replace(answer, chunks=pieces)

    def _miss_message(self, call: ChatCall) -> str:
        path = self.cassette.path
        lines = [f"no recorded answer for this request in {path} (request key {call.key()})."]
        nearest = self.cassette.nearest(call)
        if nearest is None:
            lines.append("The cassette file does not exist." if not path.exists()
                         else "The cassette is empty.")
        else:
            key, diff = nearest
            lines.append(f"Nearest recorded request is {key}"
                         " (- lines are as recorded, + lines are this request):")
            lines.append(diff or "(no difference shows in the readable form;"
                                 " perhaps only in a redacted secret)")
        return "\n".join(lines)
