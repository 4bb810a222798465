"""What the language model costs flowbot on the cars bot, against sending it every turn.

    python benchmarks/llm_cost.py               # 5 timing repetitions
    python benchmarks/llm_cost.py --repeat 1    # one pass: a quick run
    python benchmarks/llm_cost.py --check       # exit 1 when a target is missed
    python benchmarks/llm_cost.py --list        # also list the messages the model got

The scripted conversations of benchmarks/llm_conversations.py (browsing, details,
comparisons, test-drive bookings, FAQ, small talk and the open-ended questions
real customers ask) run through flows/cars.yaml: an Engine with a ChatProvider
(model gpt-4o-mini, the flow's temperature and max_tokens) over an in-process
fake model that answers every call with a short canned text, never routes and
makes no network call. In the same run, the naive approach: every user turn
sent to the model with the flow's system prompt and the whole conversation so
far (user messages and the same canned answers), and the answer appended.
The bot's greeting is left out of the naive history, which favours the naive side.

Tokens are estimated for both sides by engine.llm.tokens (no tokenizer download):
prompt tokens are estimate_messages of the messages sent. A real API also
bills the definitions of the tools offered with a call; flowbot offers its
routing tool for requests and statements that rules missed (not for
information questions), so those are estimated separately (estimate_tools,
from the compact type signature the API reads, not the raw JSON) and the
target is checked both without and with them.

Targets:
1. at most 25% of user turns call the model;
2. flowbot's prompt tokens at most 20% of the naive approach's (checked without
   and with the tool definitions);
3. the engine adds at most 1 ms (median) around a model call: the time of
   Engine.handle on a turn that called the model, less the time spent inside
   the fake model, median over the turns of a pass, median over passes.

It is a report: the exit code is 0 whatever the figures (1 with --check when a
target is missed), and 2 when the benchmark itself is wrong (a conversation
that does not end, a model call that failed, passes that count differently).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.llm_conversations import ANSWERS, CONVERSATIONS, DEFAULT_ANSWER
from engine import Engine, load_flow
from engine.flow import Flow
from engine.llm.chat import ChatAnswer, ChatCall, TokenSink
from engine.llm.messages import DEFAULT_SYSTEM
from engine.llm.provider import ChatProvider
from engine.llm.tokens import MESSAGE_OVERHEAD, estimate_messages, estimate_tokens, estimate_tools

CARS = Path(__file__).resolve().parent.parent / "flows" / "cars.yaml"
TODAY = datetime.date(2026, 11, 30)  # a Monday: the scripted dates assume it
MODEL = "gpt-4o-mini"

CALL_SHARE_TARGET = 0.25
PROMPT_RATIO_TARGET = 0.20
OVERHEAD_MS_TARGET = 1.0


def fake_answer(message: str) -> str:
    """The fake model's answer: the first of ANSWERS with a word of the message."""
    words = set(message.lower().replace("?", " ").replace(",", " ").split())
    for keys, answer in ANSWERS:
        if words.intersection(keys):
            return answer
    return DEFAULT_ANSWER


def split_tokens(messages: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """Estimated tokens of the system message and of the history (between it and the
    last message); the rest of a prompt is the user's message and the reply priming."""
    system = history = 0
    for index, (role, content) in enumerate(messages):
        tokens = MESSAGE_OVERHEAD + estimate_tokens(content)
        if role == "system":
            system += tokens
        elif index < len(messages) - 1:
            history += tokens
    return system, history


class BenchmarkError(Exception):
    """The benchmark itself is wrong: its figures would mean nothing."""


class FakeModel:
    """A ChatBackend in process: a canned answer per call, its tokens estimated.

    It counts the time spent inside complete(), so the engine's own time can be told
    apart, and estimates the tokens of the tool definitions offered with each call."""

    name = "fake"
    where = "an in-process fake model"

    def __init__(self) -> None:
        self.calls = 0
        self.inside_ns = 0
        self.tool_tokens = 0

    def complete(self, call: ChatCall, on_token: TokenSink | None = None) -> ChatAnswer:
        started = time.perf_counter_ns()
        text = fake_answer(call.messages[-1][1])
        self.calls += 1
        self.tool_tokens += estimate_tools(call.tools)
        if on_token is not None:
            on_token(text)
        answer = ChatAnswer(text, prompt_tokens=estimate_messages(call.messages),
                            completion_tokens=estimate_tokens(text), finish_reason="stop",
                            model=call.model, chunks=(text,) if on_token else ())
        self.inside_ns += time.perf_counter_ns() - started
        return answer


@dataclass
class Pass:
    """One run of every conversation through flowbot."""

    turns: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_tokens: int = 0
    system_tokens: int = 0
    history_tokens: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    llm_messages: list[tuple[str, str]] = field(default_factory=list)  # (state, message)
    overhead_ns: list[int] = field(default_factory=list)  # per turn that called the model
    rule_ns: list[int] = field(default_factory=list)  # per rule-routed turn

    def counts(self) -> tuple[int, ...]:
        return (self.turns, self.llm_calls, self.prompt_tokens, self.completion_tokens,
                self.tool_tokens, self.system_tokens, self.history_tokens)


def make_engine(flow: Flow, model: FakeModel) -> Engine:
    provider = ChatProvider(model, MODEL, temperature=flow.llm.temperature,
                            max_tokens=flow.llm.max_tokens)
    return Engine(flow, provider=provider, today=lambda: TODAY)


def run_pass(engine: Engine, model: FakeModel,
             conversations: Sequence[Sequence[str]]) -> Pass:
    result_pass = Pass()
    clock = time.perf_counter_ns
    tools_before = model.tool_tokens
    for number, conversation in enumerate(conversations, 1):
        session = engine.new_session(f"bench-{number}")
        engine.start(session)
        ended = False
        for text in conversation:
            state = session.state
            inside = model.inside_ns
            start = clock()
            result = engine.handle(session, text)
            elapsed = clock() - start
            inside = model.inside_ns - inside
            result_pass.turns += 1
            result_pass.routes[result.route] += 1
            llm = result.llm
            if llm and llm.get("calls", 0) > 0:
                if llm.get("error"):
                    raise BenchmarkError(f"conversation {number}, {text!r}: the model call "
                                         f"failed: {llm['error']}")
                result_pass.llm_calls += llm["calls"]
                result_pass.prompt_tokens += llm["prompt_tokens"]
                result_pass.completion_tokens += llm["completion_tokens"]
                system, history = split_tokens([(m["role"], m["content"])
                                                for m in llm.get("messages", ())])
                result_pass.system_tokens += system
                result_pass.history_tokens += history
                result_pass.llm_messages.append((state, text))
                result_pass.overhead_ns.append(elapsed - inside)
            elif result.route == "rule":
                result_pass.rule_ns.append(elapsed)
            ended = result.ended
        if not ended:
            raise BenchmarkError(f"conversation {number} does not end; it stops in "
                                 f"'{session.state}'")
    result_pass.tool_tokens = model.tool_tokens - tools_before
    return result_pass


@dataclass(frozen=True)
class Naive:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    system_tokens: int
    history_tokens: int


def run_naive(system: str, conversations: Sequence[Sequence[str]]) -> Naive:
    """Every turn to the model, with the system prompt and the whole history."""
    calls = prompt = completion = system_part = history_part = 0
    for conversation in conversations:
        history: list[tuple[str, str]] = [("system", system)]
        for text in conversation:
            history.append(("user", text))
            prompt += estimate_messages(history)
            in_system, in_history = split_tokens(history)
            system_part += in_system
            history_part += in_history
            reply = fake_answer(text)
            completion += estimate_tokens(reply)
            history.append(("assistant", reply))
            calls += 1
    return Naive(calls, prompt, completion, system_part, history_part)


def _p90(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


@dataclass(frozen=True)
class CostReport:
    conversations: int
    turns: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    tool_tokens: int
    system_tokens: int
    history_tokens: int
    naive: Naive
    overhead_ms: float  # median over passes of the median turn that called the model
    overhead_p90_ms: float
    rule_turn_ms: float  # median over passes of the median rule-routed turn
    repeat: int
    routes: dict[str, int]
    llm_messages: list[tuple[str, str]]

    @property
    def call_share(self) -> float:
        return self.llm_calls / self.turns

    @property
    def prompt_ratio(self) -> float:
        return self.prompt_tokens / self.naive.prompt_tokens

    @property
    def prompt_ratio_with_tools(self) -> float:
        return (self.prompt_tokens + self.tool_tokens) / self.naive.prompt_tokens

    def verdicts(self) -> list[tuple[str, bool]]:
        return [
            (f"model calls per user turn <= {CALL_SHARE_TARGET:.0%}: {self.call_share:.1%}",
             self.call_share <= CALL_SHARE_TARGET),
            (f"prompt tokens <= {PROMPT_RATIO_TARGET:.0%} of naive: {self.prompt_ratio:.1%}",
             self.prompt_ratio <= PROMPT_RATIO_TARGET),
            (f"prompt tokens incl. routing tool definitions <= {PROMPT_RATIO_TARGET:.0%} of "
             f"naive: {self.prompt_ratio_with_tools:.1%}",
             self.prompt_ratio_with_tools <= PROMPT_RATIO_TARGET),
            (f"engine overhead around a model call <= {OVERHEAD_MS_TARGET:g} ms median: "
             f"{self.overhead_ms:.3f} ms", self.overhead_ms <= OVERHEAD_MS_TARGET),
        ]


def run(repeat: int = 5, conversations: Sequence[Sequence[str]] = CONVERSATIONS,
        path: Path = CARS) -> CostReport:
    """Count tokens once and time `repeat` passes over every conversation."""
    if repeat < 1:
        raise ValueError("repeat must be 1 or more")
    flow = load_flow(path)
    model = FakeModel()
    engine = make_engine(flow, model)
    run_pass(engine, model, conversations[:3])  # warm lazy caches outside the figures
    passes: list[Pass] = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            passes.append(run_pass(engine, model, conversations))
        finally:
            gc.enable()
    first = passes[0]
    if any(p.counts() != first.counts() for p in passes[1:]):
        raise BenchmarkError("passes counted differently: "
                             + ", ".join(str(p.counts()) for p in passes))
    if not first.overhead_ns or not first.rule_ns:
        raise BenchmarkError("the conversations need turns that call the model and "
                             "rule-routed turns")
    system = flow.llm.system.render({}) if flow.llm.system is not None else DEFAULT_SYSTEM
    return CostReport(
        conversations=len(conversations), turns=first.turns, llm_calls=first.llm_calls,
        prompt_tokens=first.prompt_tokens, completion_tokens=first.completion_tokens,
        tool_tokens=first.tool_tokens, system_tokens=first.system_tokens,
        history_tokens=first.history_tokens, naive=run_naive(system, conversations),
        overhead_ms=statistics.median(statistics.median(p.overhead_ns) for p in passes) / 1e6,
        overhead_p90_ms=statistics.median(_p90(p.overhead_ns) for p in passes) / 1e6,
        rule_turn_ms=statistics.median(statistics.median(p.rule_ns) for p in passes) / 1e6,
        repeat=repeat, routes=dict(first.routes), llm_messages=first.llm_messages,
    )


def format_table(report: CostReport) -> str:
    naive = report.naive
    rows = [
        ("conversations", f"{report.conversations}", ""),
        ("user turns", f"{report.turns}", f"{report.turns}"),
        ("turns by route", ", ".join(f"{route} {count}" for route, count
                                     in sorted(report.routes.items())), ""),
        ("model calls", f"{report.llm_calls}", f"{naive.calls}"),
        ("model calls per user turn", f"{report.call_share:.1%}",
         f"{naive.calls / report.turns:.0%}"),
        ("prompt tokens", f"{report.prompt_tokens:,}", f"{naive.prompt_tokens:,}"),
        ("  flowbot / naive", f"{report.prompt_ratio:.1%}", ""),
        ("  of which system messages", f"{report.system_tokens:,}", f"{naive.system_tokens:,}"),
        ("  of which history", f"{report.history_tokens:,}", f"{naive.history_tokens:,}"),
        ("  per model call", f"{report.prompt_tokens / max(report.llm_calls, 1):,.0f}",
         f"{naive.prompt_tokens / naive.calls:,.0f}"),
        ("routing tool definitions (tokens)", f"{report.tool_tokens:,}", "0"),
        ("  prompt + tools / naive", f"{report.prompt_ratio_with_tools:.1%}", ""),
        ("completion tokens", f"{report.completion_tokens:,}", f"{naive.completion_tokens:,}"),
        ("engine overhead per model call", f"{report.overhead_ms:.3f} ms median, "
                                           f"{report.overhead_p90_ms:.3f} ms p90", ""),
        ("rule-routed turn (for context)", f"{report.rule_turn_ms:.3f} ms median", ""),
    ]
    header = ("figure", "flowbot", "naive")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in (header, *rows)]
    lines.insert(1, "-" * len(max(lines, key=len)))
    return "\n".join(lines)


def format_verdicts(report: CostReport) -> str:
    return "\n".join(f"{'PASS' if ok else 'FAIL'}  {label}" for label, ok in report.verdicts())


def format_llm_messages(report: CostReport) -> str:
    width = max(len(state) for state, _ in report.llm_messages)
    return "\n".join(f"  {state:<{width}}  {text}" for state, text in report.llm_messages)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, metavar="N",
                        help="timing passes over every conversation (default 5)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--list", action="store_true",
                        help="also list the messages that went to the model, by state")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    try:
        report = run(args.repeat)
    except BenchmarkError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    print(f"LLM cost on flows/cars.yaml: {MODEL} faked in process, tokens estimated, "
          f"timings over {report.repeat} pass{'es' if report.repeat != 1 else ''}\n")
    print(format_table(report))
    print()
    print(format_verdicts(report))
    if args.list:
        print("\nmessages that went to the model (state before the turn, message):")
        print(format_llm_messages(report))
    failed = not all(ok for _, ok in report.verdicts())
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
