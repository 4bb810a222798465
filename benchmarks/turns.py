"""How fast a turn is, how small an idle session is, how quickly a big flow loads.

    python benchmarks/turns.py            # the full run
    python benchmarks/turns.py --quick    # a fast smoke run with small sizes
    python benchmarks/turns.py --json     # also print the figures as JSON

Three figures, each against its target:

1. Turn latency through the public API (`Engine.handle`) on a scripted
   conversation with flows/cars.yaml in which every turn is rule-routed, and in
   the same run a bare baseline: a handful of compiled regexes plus one trigger
   of a shared `transitions.Machine` on a throw-away carrier. Target: the median
   flowbot turn costs at most 3x the median baseline turn.
2. Memory per idle session (created and greeted, held in a MemoryStore), by
   tracemalloc over 100,000 sessions. Target: at most 4 KB each.
3. `check_flow` on a generated 1,000-state flow. Target: at most 0.5 s.

Benchmarks inform, they do not gate: the exit code is 0 whatever the figures,
but 2 when the benchmark itself is wrong (a scripted turn that is not
rule-routed, a generated flow with errors).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transitions import Machine

import engine as flowbot
from benchmarks.table import Report, Row, format_table, verdict
from engine import Engine, MemoryStore, check_flow, load_flow

CARS = Path(__file__).resolve().parent.parent / "flows" / "cars.yaml"
TODAY = datetime.date(2026, 11, 30)  # a Monday: fixed, so every run says the same

# One cycle of a conversation with flows/cars.yaml; it ends back in `greet` with
# no slots, so cycles can repeat on one session. Every turn must be rule-routed.
SCRIPT: tuple[str, ...] = (
    "hi",
    "show me suvs under 35000",
    "tell me about the rav4",
    "compare the rav4 and the cr-v",
    "help",
    "thanks",
    "human",
    "yes",
    "book a test drive of the rav4",
    "cancel",
    "show me sedans under 40k",
    "goodbye",
    "hello",
    "help",
    "restart",
)

RATIO_TARGET = 3.0
SESSION_BYTES_TARGET = 4096
CHECK_FLOW_SECONDS_TARGET = 0.5


class BenchmarkError(Exception):
    """The benchmark itself is wrong: its figures would mean nothing."""


@dataclass(frozen=True)
class Sizes:
    rounds: int = 7  # timing rounds; each figure is the median over rounds
    cycles: int = 150  # script cycles per timing round
    warmup_cycles: int = 20
    sessions: int = 100_000
    states: int = 1_000
    intents: int = 50
    load_repeats: int = 3


FULL = Sizes()
QUICK = Sizes(rounds=3, cycles=10, warmup_cycles=3, sessions=5_000, states=200, load_repeats=1)


# ---- 1. turns -----------------------------------------------------------------


@dataclass(frozen=True)
class TurnTimes:
    """Medians over timing rounds, in microseconds."""

    median_us: float  # the median turn
    mean_us: float  # a whole cycle divided by its turns
    per_message_us: dict[str, float]

    @property
    def turns_per_second(self) -> float:
        return 1e6 / self.mean_us


def make_engine(path: Path = CARS) -> Engine:
    return Engine(load_flow(path), today=lambda: TODAY)


def check_rule_routed(engine: Engine, script: Sequence[str]) -> list[str]:
    """Run one cycle; the intent of each turn. Raises if a turn is not rule-routed."""
    session = engine.new_session()
    engine.start(session)
    intents: list[str] = []
    wrong: list[str] = []
    for text in script:
        result = engine.handle(session, text)
        if result.route != "rule" or result.intent is None:
            wrong.append(f"{text!r} -> route {result.route!r}, intent {result.intent!r}")
        intents.append(result.intent or "")
    if session.state != engine.flow.start or session.slots:
        wrong.append(f"the cycle must end in '{engine.flow.start}' with no slots, not in "
                     f"'{session.state}' with {sorted(session.slots)}")
    if wrong:
        raise BenchmarkError("scripted turns that are not rule-routed:\n  " + "\n  ".join(wrong))
    return intents


def _time_turns(handle: Callable[[str], object], script: Sequence[str], sizes: Sizes,
                reset: Callable[[], None]) -> TurnTimes:
    """Time each call of `handle` over the script; medians over rounds."""
    medians: list[float] = []
    means: list[float] = []
    per_message: dict[str, list[float]] = {text: [] for text in script}
    clock = time.perf_counter_ns
    for _ in range(sizes.rounds):
        reset()
        for _ in range(sizes.warmup_cycles):
            for text in script:
                handle(text)
        samples: dict[str, list[int]] = {text: [] for text in script}
        gc.collect()
        gc.disable()
        try:
            for _ in range(sizes.cycles):
                for text in script:
                    start = clock()
                    handle(text)
                    samples[text].append(clock() - start)
        finally:
            gc.enable()
        every = [ns for values in samples.values() for ns in values]
        medians.append(statistics.median(every) / 1000)
        means.append(sum(every) / len(every) / 1000)
        for text, values in samples.items():
            per_message[text].append(statistics.median(values) / 1000)
    return TurnTimes(
        median_us=statistics.median(medians),
        mean_us=statistics.median(means),
        per_message_us={text: statistics.median(v) for text, v in per_message.items()},
    )


def time_flowbot(engine: Engine, script: Sequence[str], sizes: Sizes) -> TurnTimes:
    session = engine.new_session()

    def reset() -> None:
        nonlocal session
        session = engine.new_session()
        engine.start(session)

    def handle(text: str) -> object:
        return engine.handle(session, text)

    return _time_turns(handle, script, sizes, reset)


class _Carrier:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


# The bare baseline: the cars flow's states and moves, with no slots, actions or replies.
_BASELINE_STATES = ("greet", "browse", "details", "compare", "booking", "confirm_booking",
                    "booked", "booking_cancelled", "anything_else", "handoff", "goodbye")
_BASELINE_PATTERNS = (
    ("greet", r"^(hi|hello|hey)\b"),
    ("compare", r"\b(compare|vs|versus)\b"),
    ("details", r"\b(tell me about|details?|specs?)\b"),
    ("book", r"\btest[- ]?drive\b|\bbook\b"),
    ("browse", r"\b(show|find|need|want)\b|\bunder\b.*\d"),
    ("help", r"\bhelp\b"),
    ("thanks", r"^(thanks|thank you)\b"),
    ("restart", r"^(restart|start over)\b"),
    ("cancel", r"^cancel\b"),
    ("human", r"\b(human|agent)\b"),
    ("affirm", r"^(yes|yeah|sure|ok)\b"),
    ("deny", r"^(no|nope)\b"),
    ("goodbye", r"^(bye|goodbye)\b"),
)
_BASELINE_MOVES: dict[str, dict[str, str | None]] = {
    # intent -> {source: dest}; "*" is every state, dest None stays put
    "greet": {"greet": None, "anything_else": "greet", "goodbye": "greet"},
    "browse": dict.fromkeys(("greet", "browse", "details", "compare", "anything_else"), "browse"),
    "details": dict.fromkeys(("greet", "browse", "details", "compare", "anything_else"),
                             "details"),
    "compare": dict.fromkeys(("greet", "browse", "details", "compare", "anything_else"),
                             "compare"),
    "book": dict.fromkeys(("greet", "browse", "details", "compare", "anything_else"), "booking"),
    "affirm": {"confirm_booking": "booked", "anything_else": "greet", "handoff": "compare"},
    "deny": {"confirm_booking": "booking_cancelled", "anything_else": "goodbye",
             "handoff": "goodbye"},
    "help": {"*": None},
    "thanks": {"*": None},
    "restart": {"*": "greet"},
    "cancel": {"*": "anything_else"},
    "human": {"*": "handoff"},
    "goodbye": {"*": "goodbye"},
}


class Baseline:
    """A regex router and a shared transitions.Machine fired on a throw-away carrier."""

    def __init__(self) -> None:
        self.patterns = [(intent, re.compile(p, re.IGNORECASE)) for intent, p in _BASELINE_PATTERNS]
        self.machine = Machine(model=None, states=list(_BASELINE_STATES), initial="greet",
                               auto_transitions=False, send_event=True,
                               ignore_invalid_triggers=True)
        for intent, moves in _BASELINE_MOVES.items():
            for source, dest in moves.items():
                sources: list[Any] = list(_BASELINE_STATES) if source == "*" else [source]
                self.machine.add_transition(intent, sources, dest)
        self.events = self.machine.events
        self.state = "greet"

    def route(self, text: str) -> str | None:
        for intent, pattern in self.patterns:
            if pattern.search(text):
                return intent
        return None

    def handle(self, text: str) -> bool:
        """Route and fire; True when a transition fired."""
        intent = self.route(text)
        if intent is None:
            return False
        carrier = _Carrier(self.state)
        fired: bool = self.events[intent].trigger(carrier)
        self.state = carrier.state
        return fired


def time_baseline(script: Sequence[str], intents: Sequence[str], sizes: Sizes) -> TurnTimes:
    baseline = Baseline()
    routed = [baseline.route(text) for text in script]
    if routed != list(intents):
        pairs = [f"{t!r}: flowbot {a!r}, baseline {b!r}"
                 for t, a, b in zip(script, intents, routed, strict=True) if a != b]
        raise BenchmarkError("the baseline must route the script as flowbot does:\n  "
                             + "\n  ".join(pairs))
    idle = [text for text in script if not baseline.handle(text)]
    if idle or baseline.state != "greet":
        raise BenchmarkError(f"the baseline must fire a transition on every turn and end in "
                             f"'greet' (no transition for {idle}, ends in '{baseline.state}')")

    def reset() -> None:
        baseline.state = "greet"

    return _time_turns(baseline.handle, script, sizes, reset)


# ---- 2. idle sessions -----------------------------------------------------------


@dataclass(frozen=True)
class SessionMemory:
    sessions: int
    bytes_per_session: float
    json_bytes: int
    top_allocations: list[str]


def measure_sessions(engine: Engine, count: int) -> SessionMemory:
    """Traced memory of `count` greeted, idle sessions held in a MemoryStore."""
    sample = engine.new_session()
    engine.start(sample)  # warms any lazy caches outside the measurement
    json_bytes = len(json.dumps(sample.to_dict(), ensure_ascii=False).encode("utf-8"))
    del sample
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = MemoryStore()
        for _ in range(count):
            session = engine.new_session()
            engine.start(session)
            store.put(session)
        del session
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        snapshot = tracemalloc.take_snapshot()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert len(store) == count
    top = [f"{stat.size / count:7.1f} B/session  {stat.traceback[0].filename.rsplit('/', 2)[-1]}:"
           f"{stat.traceback[0].lineno}" for stat in snapshot.statistics("lineno")[:6]]
    del store, snapshot
    gc.collect()
    return SessionMemory(count, (after - before) / count, json_bytes, top)


# ---- 3. a generated flow -----------------------------------------------------------


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text)


def generate_flow(directory: Path, states: int = 1_000, intents: int = 50, seed: int = 7) -> Path:
    """Write a valid flow with `states` states and `intents` intents; return its path."""
    rng = random.Random(seed)
    names = [f"s{i:04d}" for i in range(states)]
    global_intents = ["help", "restart", "stop"]
    own = [f"intent_{i:02d}" for i in range(max(intents - len(global_intents), 3))]
    lines = [
        "# Generated by benchmarks/turns.py: a large flow for timing check_flow.",
        "flow: generated",
        f"description: {_q(f'{states} generated states')}",
        f"start: {names[0]}",
        "settings: {max_input_chars: 400, history_turns: 6}",
        "slots:",
        "  colour:",
        "    type: enum",
        "    values: [red, green, blue, black, white]",
        "    synonyms: {crimson: red, navy: blue}",
        "    prompt: Which colour?",
        "  size: {type: enum, values: [small, medium, large], prompt: Which size?}",
        "  quantity: {type: number, min: 1, max: 99, prompt: How many?}",
        "  budget: {type: money, min: 10, max: 100000, prompt: What budget?}",
        "  day: {type: date, after: today, prompt: Which day?}",
        "  contact: {type: phone, prompt: Your phone number?, max_attempts: 2}",
        "  note: {type: text, prompt: Anything to add?}",
        "intents:",
        "  help: {keywords: [help, what can you do]}",
        "  restart: {patterns: ['^(restart|start over)\\b']}",
        "  stop: {patterns: ['^(stop|quit|bye)\\b'], examples: [i want to stop]}",
    ]
    slot_sets: tuple[list[str], ...] = (
        ["colour"], ["quantity"], ["colour", "size"], ["budget"], [])
    for i, name in enumerate(own):
        word = f"zq{i:02d}"
        patterns = [rf"\b{word}(?:ing|s)?\b", rf"^please {word}\b"]
        lines += [
            f"  {name}:",
            f"    patterns: [{', '.join(_q(p) for p in patterns)}]",
            f"    keywords: [{_q(f'topic {word}')}]",
            f"    examples: [{_q(f'could you {word} it')}, {_q(f'i would like to {word}')}, "
            f"{_q(f'{word} for me please')}]",
            f"    slots: [{', '.join(slot_sets[i % len(slot_sets)])}]",
        ]
    lines += ["knowledge:"]
    for i in range(5):
        lines += [
            f"  - id: faq_{i}",
            f"    questions: [{_q(f'what about faq number {i}')}, {_q(f'tell me faq {i}')}]",
            f"    keywords: [{_q(f'faq{i}')}]",
            f"    answer: {_q(f'This is answer {i}.')}",
        ]
    lines += [
        "global:",
        "  - {intent: help, say: \"I know many states. Say 'restart' to begin again.\"}",
        f"  - {{intent: restart, do: [{{clear: all}}], say: Starting over., goto: {names[0]}}}",
        f"  - {{intent: stop, goto: {names[-1]}}}",
        "states:",
    ]
    for i, name in enumerate(names):
        lines.append(f"  {name}:")
        if i == states - 1:
            lines += ["    say: Goodbye!", "    final: true"]
            continue
        following = names[i + 1]
        if i % 3 == 0:
            say = (f"State {i}: {{{{ colour or 'no colour' }}}}, {{% if quantity %}}"
                   "{{ quantity }} of them{% else %}none yet{% endif %}.")
        else:
            say = f"This is state number {i}. What next?"
        lines.append(f"    say: {_q(say)}")
        if i % 7 == 3:
            lines.append("    collect: [colour, size]")
        elif i % 11 == 5:
            lines += ["    collect:",
                      f"      - {{slot: quantity, prompt: {_q(f'How many for state {i}?')}, "
                      f"max_attempts: 2, on_fail: {names[0]}}}",
                      "      - budget"]
        if i % 25 == 10:
            lines.append(f"    do: [{{set: {{checkpoint: {_q(name)}}}}}]")
        if i % 5 == 2:
            lines.append(f"    prompt: {_q(f'The user is in state {i}; colour {{{{ colour }}}}.')}")
            lines.append(f"    fallback: {_q(f'Sorry, state {i} did not get that.')}")
        if i % 50 == 49:  # a pass-through state
            lines += ["    next:",
                      f"      - {{goto: {following}, when: \"slots.quantity > 5\"}}",
                      f"      - {{goto: {following}}}"]
            continue
        picked = rng.sample(own, 2 + (i % 2))
        lines.append("    on:")
        for k, intent in enumerate(picked):
            target = following if k == 0 else names[rng.randrange(states)]
            if k == 1 and i % 4 == 0:
                lines += [f"      {intent}:",
                          f"        - {{goto: {target}, when: \"slots.quantity >= 3 and "
                          f"slots.colour == 'red'\"}}",
                          f"        - {{goto: {following}, say: {_q('Not quite yet.')}}}"]
            elif k == 2 and i % 6 == 1:
                lines.append(f"      {intent}: {{say: {_q('Noted: {{ quantity or 0 }}.')}, "
                             f"do: [{{set: {{seen: true}}}}]}}")
            else:
                lines.append(f"      {intent}: {target}")
    path = directory / "generated.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class FlowLoad:
    states: int
    intents: int
    yaml_bytes: int
    check_seconds: float  # median over repeats
    runs_seconds: list[float]
    errors: int
    warnings: int
    engine_seconds: float  # Engine(flow): the router and the shared machine


def time_generated_flow(directory: Path, sizes: Sizes) -> FlowLoad:
    path = generate_flow(directory, sizes.states, sizes.intents)
    runs: list[float] = []
    report = None
    for _ in range(sizes.load_repeats):
        gc.collect()
        start = time.perf_counter()
        report = check_flow(path)
        runs.append(time.perf_counter() - start)
    assert report is not None
    if report.errors or report.flow is None:
        shown = "\n  ".join(d.format() for d in report.errors[:10])
        raise BenchmarkError(f"the generated flow has {len(report.errors)} errors:\n  {shown}")
    start = time.perf_counter()
    Engine(report.flow)
    engine_seconds = time.perf_counter() - start
    return FlowLoad(
        states=len(report.flow.states), intents=len(report.flow.intents),
        yaml_bytes=path.stat().st_size, check_seconds=statistics.median(runs),
        runs_seconds=runs, errors=len(report.errors), warnings=len(report.warnings),
        engine_seconds=engine_seconds,
    )


# ---- the run ----------------------------------------------------------------------


def run(sizes: Sizes, workdir: Path | None = None) -> Report:
    engine = make_engine()
    intents = check_rule_routed(engine, SCRIPT)
    bot = time_flowbot(engine, SCRIPT, sizes)
    bare = time_baseline(SCRIPT, intents, sizes)
    memory = measure_sessions(engine, sizes.sessions)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="flowbot-bench-") as temp:
            load = time_generated_flow(Path(temp), sizes)
    else:
        load = time_generated_flow(workdir, sizes)

    ratio = bot.median_us / bare.median_us
    rows = [
        Row("turn_flowbot", f"turn, flowbot ({len(SCRIPT)} rule-routed msgs)",
            f"{bot.median_us:.1f} µs median, {bot.mean_us:.1f} µs mean"),
        Row("turns_per_second", "turns per second, flowbot", f"{bot.turns_per_second:,.0f} /s"),
        Row("turn_baseline", "turn, bare regex + transitions",
            f"{bare.median_us:.1f} µs median, {bare.mean_us:.1f} µs mean"),
        Row("ratio", "flowbot / baseline (median turn)",
            f"{ratio:.1f}x (mean {bot.mean_us / bare.mean_us:.1f}x)",
            f"<= {RATIO_TARGET:g}x", verdict(ratio <= RATIO_TARGET)),
        Row("session_memory", f"idle session memory ({memory.sessions:,} sessions)",
            f"{memory.bytes_per_session:,.0f} B", f"<= {SESSION_BYTES_TARGET:,} B",
            verdict(memory.bytes_per_session <= SESSION_BYTES_TARGET)),
        Row("session_json", "idle session as JSON", f"{memory.json_bytes:,} B"),
        Row("check_flow", f"check_flow, {load.states:,}-state flow (median of "
                          f"{len(load.runs_seconds)})",
            f"{load.check_seconds:.3f} s", f"<= {CHECK_FLOW_SECONDS_TARGET:g} s",
            verdict(load.check_seconds <= CHECK_FLOW_SECONDS_TARGET)),
        Row("diagnostics", "diagnostics of the generated flow",
            f"{load.errors} errors, {load.warnings} warnings", "0 errors",
            verdict(load.errors == 0)),
        Row("engine_build", f"Engine(flow), {load.states:,}-state flow",
            f"{load.engine_seconds:.3f} s"),
    ]
    figures: dict[str, Any] = {
        "flowbot_version": flowbot.__version__,
        "python": platform.python_version(),
        "sizes": asdict(sizes),
        "script": list(SCRIPT),
        "flowbot": {**asdict(bot), "turns_per_second": bot.turns_per_second},
        "baseline": {**asdict(bare), "turns_per_second": bare.turns_per_second},
        "ratio": ratio,
        "sessions": asdict(memory),
        "generated_flow": asdict(load),
        "targets": {"ratio": RATIO_TARGET, "session_bytes": SESSION_BYTES_TARGET,
                    "check_flow_seconds": CHECK_FLOW_SECONDS_TARGET},
        "verdicts": {row.key: row.verdict for row in rows if row.verdict},
    }
    return Report(rows, figures)


def format_details(report: Report) -> str:
    bot = report.figures["flowbot"]["per_message_us"]
    bare = report.figures["baseline"]["per_message_us"]
    width = max(len(text) for text in bot) + 2
    lines = [f"{'message (median µs per turn)':<{width}}  {'flowbot':>8}  {'baseline':>8}  ratio"]
    for text, us in bot.items():
        lines.append(f"{text!r:<{width}}  {us:8.1f}  {bare[text]:8.1f}  {us / bare[text]:5.1f}x")
    lines.append("")
    lines.append("largest allocation sites of the idle sessions:")
    lines.extend(f"  {line}" for line in report.figures["sessions"]["top_allocations"])
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a fast smoke run")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    try:
        report = run(sizes)
    except BenchmarkError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    if args.quick:
        print("quick run: sizes are reduced, the figures are only indicative\n")
    print(format_table(report.rows))
    print()
    print(format_details(report))
    if args.json:
        print()
        print(json.dumps(report.figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
