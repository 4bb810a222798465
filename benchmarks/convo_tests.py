"""How long `flowbot test` takes on 200 generated conversation cases replayed from a cassette.

    python benchmarks/convo_tests.py            # the full run: 200 cases, 3 timed runs
    python benchmarks/convo_tests.py --quick    # a fast smoke run: 20 cases, 1 timed run
    python benchmarks/convo_tests.py --json     # also print the figures as JSON
    python benchmarks/convo_tests.py --keep DIR # leave the generated project in DIR
    python benchmarks/convo_tests.py --cases N --runs R

With other than 200 cases the 10 s target is checked on a projection: the trivial
run's fixed cost plus the rest scaled linearly to 200 cases.

Set-up, not timed: a copy of flows/cars.yaml (with flows/actions.py and flows/data/)
goes into a temporary folder with N generated cases in a few `*.convo.yaml` files.
The cases are built from a seeded random pool of what customers say to the cars
bot: browsing by body type and budget, refining, details of models from
flows/data/cars.csv, comparisons, test-drive bookings with dates, names and phone
numbers, yes/no, help, thanks, restart, the FAQ, and in every case one to three
open questions that no rule handles ("is it good for camping?") and that go to the
model. The files use the default `llm: replay`. The cassette is recorded by running
the same cases once in process against engine.testing.fake_openai.FakeOpenAI (the
real OpenAI client over HTTP to a local fake); the snapshots are then written with
`flowbot test --update`.

Timed: `flowbot test DIR`, the command a user runs (a subprocess, replaying the
cassette, every case checked against its expectations and its snapshot), median of
R runs. Target: at most 10 s for 200 cases on this machine.

In the same run, so the figures say where the time goes:
- the baseline: the same cases through engine.testing.runner.CaseRunner in
  process (no pytest, no syrupy), median of R, split into loading the test files,
  loading the cassette (once per file) and running the cases; the ratio
  `flowbot test` / baseline;
- the fixed cost of a run: `python -m pytest --version`, and `flowbot test` on a
  folder holding one trivial case.

Benchmarks inform, they do not gate: the exit code is 0 whatever the figures, but
2 when the benchmark itself is wrong (a generated case that fails or never reaches
the model, a `flowbot test` run that does not pass every case).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.table import Report, Row, format_table, verdict
from engine.flow import Flow
from engine.llm.base import LLMProvider
from engine.llm.cassette import Cassette
from engine.llm.chat import ChatAnswer, ChatBackend, ChatCall, TokenSink
from engine.llm.setup import LLMOptions, provider_from_env
from engine.testing.convo import ConvoFile, load_convo
from engine.testing.fake_openai import FakeOpenAI, FakeReply
from engine.testing.runner import CaseRunner, provider_for

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "flows"
TODAY = "2026-01-05"  # a Monday, as in flows/cars.convo.yaml: "Friday" is 9 January

SECONDS_TARGET = 10.0  # for TARGET_CASES cases
TARGET_CASES = 200


class BenchmarkError(Exception):
    """The benchmark itself is wrong: its figures would mean nothing."""


@dataclass(frozen=True)
class Sizes:
    cases: int = 200
    files: int = 4  # the cases are spread over this many *.convo.yaml files
    runs: int = 3  # timed runs of each command; each figure is the median
    seed: int = 2026
    fixed_costs: bool = True  # also time `pytest --version` and one trivial case


FULL = Sizes()
QUICK = Sizes(cases=20, runs=1)


# ---- what customers say ---------------------------------------------------------------

BODY_WORDS = {"suv": ("suvs", "SUVs", "crossovers"), "sedan": ("sedans", "saloons"),
              "hatchback": ("hatchbacks",), "pickup": ("pickups", "trucks"),
              "minivan": ("minivans",), "coupe": ("coupes",), "wagon": ("wagons",)}
BUDGETS = ("25k", "30000", "35k", "40k", "45,000", "50k", "60k", "$70,000")
BROWSE_LINES = ("show me {body} under {budget}", "any {body} under {budget}?",
                "I'm looking for {body} under {budget}", "find me {body} below {budget}")
BROWSE_OPENERS = ("I'm looking for a car", "I need a new car", "I want to buy a car",
                  "show me your cars")
BODY_ANSWERS = {"suv": "an suv", "sedan": "a sedan", "hatchback": "hatchback",
                "pickup": "a pickup", "minivan": "minivan", "coupe": "a coupe",
                "wagon": "wagon"}
REFINES = ("make it a hybrid", "only hybrids", "make it electric", "only Toyotas",
           "just Hondas", "only Kias", "what about Hyundais", "with 7 seats",
           "make it cheaper, under 30k", "only Subarus", "just Fords", "only Mazdas")
DETAILS_LINES = ("tell me about the {model}", "details on the {model}",
                 "how much is the {model}?", "tell me more about the {model}",
                 "specs of the {model} please", "info on the {model}")
COMPARE_LINES = ("compare the {a} and the {b}", "compare the {a} with the {b}",
                 "{a} vs {b}", "compare {a} versus {b}")
BOOK_LINES = ("book a test drive of the {model}", "I'd like to test drive the {model}",
              "can I book a test drive of the {model}?")
BOOK_THIS = ("I'd like to book a test drive", "book a test drive please",
             "can I test drive it?")
DATES = ("tomorrow", "Friday", "Saturday", "on Thursday", "15 January", "January 20",
         "next Monday", "12 January")
NAMES = ("Jane Doe", "Sam Patel", "Maria Garcia", "Tom Baker", "Aisha Khan", "Li Wei",
         "Olga Petrova", "Kwame Mensah", "Ann Lee", "Diego Ruiz")
PHONES = ("555-123-4567", "07700 900123", "(555) 010-2233", "+1 555 201 3344",
          "555 987 6543", "020 7946 0018")
KNOWLEDGE = ("what are your opening hours?", "are you open on sunday?",
             "do you offer financing?", "is there a warranty?", "do you take trade-ins?",
             "what is your address?")
HELLOS = ("hello", "hi there", "hey")
THANKS = ("thanks", "thank you!", "cheers")
HUMANS = ("can I talk to a human?", "I'd like to speak to someone", "get me a sales rep")
BYES = ("bye", "goodbye", "that's all, thanks")

# Open questions no rule handles: they go to the model, with the state's own prompt.
# They avoid the words the flow's patterns take for a task (see flows/cars.yaml).
OPEN_QUESTIONS = {
    "greet": ("what's a good first car for a new driver?", "is now a good time to buy?",
              "are you a bot?", "what's the cheapest kind of car to run?",
              "which is greener, a hybrid or an electric?",
              "I drive a lot at night, what matters most?"),
    "browse": ("which of these is the most reliable?", "which one is best for a long commute?",
               "which would you pick for a young family?",
               "which of these is cheapest to insure?", "which one has the biggest boot?",
               "which is the quietest of them?", "which is easiest to park?"),
    "details": ("is it good for camping?", "will a big dog fit in the back?",
                "is it comfortable on long motorway trips?", "how does it handle in snow?",
                "is it easy to park in the city?", "does it have apple carplay?",
                "what colours does it come in?", "is it quiet inside at highway speed?",
                "would it suit a new driver?", "can I fit a bike in the boot?"),
    "compare": ("which one is more reliable?", "which is better on a road trip?",
                "which would hold its value better?", "which has more room in the back?",
                "which one is nicer to drive every day?",
                "which is the safer choice for a teenager?"),
    "booking_date": ("can my partner come along too?", "how long does it usually take?",
                     "is it free of charge?"),
    "confirm": ("do I need my driving licence?", "will someone from the team come along?"),
}

# What the fake model says: a canned answer picked by the question, stable per request.
ANSWERS = (
    "From the figures I have, it's a sensible choice for that: plenty of room and a "
    "comfortable ride. A test drive is the best way to be sure.",
    "Good question. Both are solid, but the one with the better mpg will cost less to "
    "run over the years.",
    "I'd say yes for most people. If you tell me a little more about how you drive, I "
    "can narrow it down.",
    "Our sales team can give you exact figures; from what I have, it holds up well.",
    "That depends mostly on budget and how far you drive each day. Shall I show you a "
    "few options?",
    "Yes, you're welcome to. Just bring your licence, and we'll take care of the rest.",
)


def fake_answer(body: dict[str, Any]) -> FakeReply:
    messages = body.get("messages") or [{}]
    question = str(messages[-1].get("content", ""))
    return FakeReply(text=ANSWERS[zlib.crc32(question.encode("utf-8")) % len(ANSWERS)])


# ---- generating the cases -------------------------------------------------------------

READY = ("greet", "browse", "details", "compare", "anything_else")


@dataclass(frozen=True)
class Step:
    """One user turn, with what the generator expects of it."""

    user: str
    state: str  # the flow state after the turn
    slots: dict[str, Any] | None = None
    says: str | None = None
    llm: bool = False
    ended: bool = False
    pool: str | None = None  # the open questions that fit after this turn, if any


# Where a conversation stands, as the generator sees it -> the flow state, and the pool
# of open questions that fit there (None: the bot is waiting for a particular answer).
_STANDS: dict[str, tuple[str, str | None]] = {
    "greet": ("greet", "greet"), "browse": ("browse", "browse"),
    "details": ("details", "details"), "compare": ("compare", "compare"),
    "anything_else": ("anything_else", None), "handoff": ("handoff", None),
    "booking_date": ("booking", "booking_date"), "booking_name": ("booking", None),
    "booking_phone": ("booking", None), "confirm": ("confirm_booking", "confirm"),
    "browse_asking": ("browse", None), "goodbye": ("goodbye", None),
}


def _pool_before(steps: Sequence[Step], index: int) -> str | None:
    return "greet" if index == 0 else steps[index - 1].pool


@dataclass
class _Talk:
    stands: str = "greet"  # a key of _STANDS
    model: str | None = None
    searched: bool = False  # body type and budget are both known
    steps: list[Step] = field(default_factory=list)


class CaseWriter:
    """Builds conversation cases from the pools above, deterministically from a seed."""

    def __init__(self, seed: int, cars: Sequence[dict[str, str]]) -> None:
        self.rng = random.Random(seed)
        self.cars = list(cars)
        self.models = [car["model"] for car in cars]

    def _pair(self) -> tuple[str, str]:
        """Two models of the same body type, neither name inside the other."""
        while True:
            first = self.rng.choice(self.cars)
            same = [c["model"] for c in self.cars if c["body_type"] == first["body_type"]
                    and c["model"].lower() not in first["model"].lower()
                    and first["model"].lower() not in c["model"].lower()]
            if same:
                return first["model"], self.rng.choice(same)

    def case(self) -> tuple[list[Step], str]:
        """One case of 4 to 10 turns, 1 to 3 of them to the model; and what it does."""
        rng = self.rng
        length = rng.randint(4, 10)
        asks = rng.randint(1, min(3, length - 3))
        talk = _Talk()
        moves: list[str] = []
        while len(talk.steps) < length - asks:
            moves.append(self._move(talk, length - asks - len(talk.steps)))
        steps = talk.steps
        for _ in range(asks):  # open questions where a pool fits (always before turn 1)
            spots = [i for i in range(len(steps) + 1) if _pool_before(steps, i) is not None]
            spot = rng.choice(spots)
            before = steps[spot - 1] if spot else Step("", "greet", pool="greet")
            assert before.pool is not None
            steps.insert(spot, Step(rng.choice(OPEN_QUESTIONS[before.pool]), before.state,
                                    llm=True, pool=before.pool))
        return steps, "_".join(dict.fromkeys(moves))

    def _move(self, talk: _Talk, left: int) -> str:
        """Append the turns of one move that fits in `left` turns; its name."""
        rng = self.rng
        stands = talk.stands
        options: list[tuple[str, Callable[[_Talk], None]]] = []
        if stands in READY:
            options += [("browse", self._browse), ("details", self._details),
                        ("details", self._details), ("compare", self._compare),
                        ("faq", self._knowledge), ("help", self._help)]
            if not talk.searched and left >= 3:
                options.append(("browse", self._browse_steps))
            if left >= 2:
                options += [("book", self._book), ("book", self._book)]
            if left >= 2 and stands != "anything_else":
                options.append(("human", self._human))
            if stands == "browse":
                options += [("refine", self._refine), ("refine", self._refine)]
            if stands == "details" and left >= 2:
                options += [("book", self._book_this), ("book", self._book_this)]
            if stands in ("greet", "anything_else"):
                options.append(("hello", self._hello))
            if stands == "anything_else":
                options.append(("yes", self._carry_on))
            if left == 1:
                options.append(("bye", self._bye))
            if stands != "greet":
                options += [("thanks", self._thanks), ("restart", self._restart)]
        else:  # in the middle of a booking
            options += [("book", self._booking_step)] * 6
            options += [("restart", self._restart), ("cancel", self._cancel)]
        name, move = rng.choice(options)
        move(talk)
        return name

    # -- moves ------------------------------------------------------------------------

    def _add(self, talk: _Talk, user: str, stands: str, **expect: Any) -> None:
        state, pool = _STANDS[stands]
        talk.steps.append(Step(user, state, pool=pool, **expect))
        talk.stands = stands

    def _browse(self, talk: _Talk) -> None:
        rng = self.rng
        body = rng.choice(list(BODY_WORDS))
        text = rng.choice(BROWSE_LINES).format(body=rng.choice(BODY_WORDS[body]),
                                                budget=rng.choice(BUDGETS))
        talk.searched = True
        self._add(talk, text, "browse", slots={"body_type": body})

    def _browse_steps(self, talk: _Talk) -> None:
        rng = self.rng
        body = rng.choice(list(BODY_WORDS))
        self._add(talk, rng.choice(BROWSE_OPENERS), "browse_asking", says="What kind of car")
        self._add(talk, BODY_ANSWERS[body], "browse_asking", slots={"body_type": body},
                  says="budget")
        talk.searched = True
        self._add(talk, rng.choice(BUDGETS), "browse")

    def _refine(self, talk: _Talk) -> None:
        self._add(talk, self.rng.choice(REFINES), "browse")

    def _details(self, talk: _Talk) -> None:
        model = talk.model = self.rng.choice(self.models)
        self._add(talk, self.rng.choice(DETAILS_LINES).format(model=model), "details",
                  slots={"model": model})

    def _compare(self, talk: _Talk) -> None:
        first, second = self._pair()
        talk.model = first
        self._add(talk, self.rng.choice(COMPARE_LINES).format(a=first, b=second), "compare",
                  slots={"model": first, "other_model": second})

    def _knowledge(self, talk: _Talk) -> None:
        self._add(talk, self.rng.choice(KNOWLEDGE), talk.stands)

    def _help(self, talk: _Talk) -> None:
        self._add(talk, "help", talk.stands, says="test drive")

    def _thanks(self, talk: _Talk) -> None:
        self._add(talk, self.rng.choice(THANKS), talk.stands, says="welcome")

    def _hello(self, talk: _Talk) -> None:
        self._add(talk, self.rng.choice(HELLOS), "greet")

    def _restart(self, talk: _Talk) -> None:
        talk.model, talk.searched = None, False
        self._add(talk, self.rng.choice(("restart", "start over")), "greet",
                  slots={"body_type": None, "model": None})

    def _cancel(self, talk: _Talk) -> None:
        self._add(talk, "cancel", "anything_else", slots={"date": None, "phone": None})

    def _carry_on(self, talk: _Talk) -> None:
        self._add(talk, self.rng.choice(("yes", "yes please")), "greet")

    def _bye(self, talk: _Talk) -> None:
        self._add(talk, self.rng.choice(BYES), "goodbye", ended=True)

    def _human(self, talk: _Talk) -> None:
        back = talk.stands
        self._add(talk, self.rng.choice(HUMANS), "handoff", says="555-0100")
        self._add(talk, "yes", back)

    def _book(self, talk: _Talk) -> None:
        model = talk.model = self.rng.choice(self.models)
        self._add(talk, self.rng.choice(BOOK_LINES).format(model=model), "booking_date",
                  slots={"model": model}, says="Which day")

    def _book_this(self, talk: _Talk) -> None:
        self._add(talk, self.rng.choice(BOOK_THIS), "booking_date", slots={"model": talk.model},
                  says="Which day")

    def _booking_step(self, talk: _Talk) -> None:
        rng = self.rng
        if talk.stands == "booking_date":
            self._add(talk, rng.choice(DATES), "booking_name", says="What name")
        elif talk.stands == "booking_name":
            name = rng.choice(NAMES)
            self._add(talk, name, "booking_phone", slots={"name": name}, says="phone")
        elif talk.stands == "booking_phone":
            self._add(talk, rng.choice(PHONES), "confirm", says="Shall I book")
        elif rng.random() < 0.75:
            self._add(talk, rng.choice(("yes", "yes please", "sure")), "anything_else",
                      says="Your reference is TD-")
        else:
            self._add(talk, rng.choice(("no", "no thanks")), "anything_else",
                      says="haven't booked")


def read_cars(path: Path = FLOWS / "data" / "cars.csv") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def case_data(steps: Sequence[Step], rng: random.Random) -> list[Any]:
    """The turns as a test file writes them: a plain string, or {user, expect}."""
    turns: list[Any] = []
    for step in steps:
        expect: dict[str, Any] = {}
        if step.llm or rng.random() < 0.7:
            expect["state"] = step.state
        if step.slots and rng.random() < 0.6:
            expect["slots"] = step.slots
        if step.says:
            expect["says"] = step.says
        if step.llm:
            expect["llm"] = True
        if step.ended:
            expect["ended"] = True
        turns.append({"user": step.user, "expect": expect} if expect else step.user)
    return turns


@dataclass(frozen=True)
class Generated:
    files: list[Path]
    cases: int
    turns: int
    model_turns: int  # turns the generator meant for the model


def write_project(directory: Path, sizes: Sizes) -> Generated:
    """The flow, its actions and data, and the generated test files, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(FLOWS / "cars.yaml", directory / "cars.yaml")
    shutil.copy(FLOWS / "actions.py", directory / "actions.py")
    shutil.copytree(FLOWS / "data", directory / "data", dirs_exist_ok=True)
    writer = CaseWriter(sizes.seed, read_cars())
    rng = random.Random(sizes.seed + 1)
    files = max(1, min(sizes.files, sizes.cases))
    per_file: list[dict[str, Any]] = [{} for _ in range(files)]
    turns = model_turns = 0
    for number in range(1, sizes.cases + 1):
        steps, moves = writer.case()
        turns += len(steps)
        model_turns += sum(step.llm for step in steps)
        name = f"c{number:03d}_{moves}"[:60].rstrip("_")
        per_file[(number - 1) * files // sizes.cases][name] = {
            "description": f"Generated: {moves.replace('_', ', ')}.",
            "turns": case_data(steps, rng)}
    paths = []
    for index, cases in enumerate(per_file, 1):
        path = directory / f"generated_{index}.convo.yaml"
        document = {"flow": "cars.yaml",
                    "description": f"Generated conversations, part {index} of {files}.",
                    "today": TODAY, "cases": cases}
        path.write_text("# Generated by benchmarks/convo_tests.py.\n"
                        + yaml.safe_dump(document, sort_keys=False, allow_unicode=True,
                                         width=100), encoding="utf-8")
        paths.append(path)
    return Generated(paths, sizes.cases, turns, model_turns)


def write_trivial(directory: Path, flow: Path) -> Path:
    """One test file with one rule-routed case, offline: the fixed cost of a run."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "trivial.convo.yaml"
    path.write_text(f"flow: {os.path.relpath(flow, directory)}\nllm: offline\ntoday: "
                    f'"{TODAY}"\ncases:\n  hello:\n    turns: [hi]\n', encoding="utf-8")
    return path


# ---- recording the cassette -------------------------------------------------------------

class _Recorder:
    """Records answers into an in-memory cassette, saved once at the end.

    RecordingBackend (what `flowbot test --record` uses) rewrites the whole cassette
    after every call, which is quadratic in the number of calls; here that would be
    slow set-up and says nothing about replay."""

    def __init__(self, inner: ChatBackend, cassette: Cassette) -> None:
        self.inner = inner
        self.cassette = cassette
        self.name = inner.name
        self.where = f"{inner.where}, recording"

    def complete(self, call: ChatCall, on_token: TokenSink | None = None) -> ChatAnswer:
        answer = self.inner.complete(call, on_token)
        self.cassette.add(call, answer)
        return answer


def _recording_provider(flow: Flow, base_url: str, cassette: Cassette) -> LLMProvider:
    provider = provider_from_env(flow, env={"OPENAI_BASE_URL": base_url},
                                 options=LLMOptions(mode="live", dotenv=None))
    backend = getattr(provider, "backend", None)
    if backend is None:
        raise BenchmarkError(f"no model to record with: {provider.describe()}")
    provider.backend = _Recorder(backend, cassette)  # type: ignore[attr-defined]
    return provider


@dataclass(frozen=True)
class Recording:
    model_calls: int
    cassette_entries: int
    cassette_bytes: int


def record(files: Sequence[Path]) -> Recording:
    """Run every case once against a fake OpenAI server, checking its expectations,
    and write the cassette the test files replay."""
    calls = 0
    without: list[str] = []
    problems: list[str] = []
    convos = [load_convo(path) for path in files]
    cassette = Cassette(convos[0].cassette)
    with FakeOpenAI(default=fake_answer) as fake:
        for convo in convos:
            if convo.cassette != cassette.path:
                raise BenchmarkError("the generated files must share one cassette")
            runner = CaseRunner(convo, _recording_provider(convo.flow, fake.base_url,
                                                           cassette))
            for case in convo.cases.values():
                run = runner.run(case)
                if run.error is not None:
                    problems.append(run.error)
                problems += run.failures
                made = sum(r.llm.get("calls", 0) for r in run.results if r.llm)
                errors = [r.llm["error"] for r in run.results if r.llm and r.llm.get("error")]
                problems += [f"{convo.display}: case '{case.name}': the model call failed: {e}"
                             for e in errors]
                if not made:
                    without.append(case.name)
                calls += made
    if problems:
        raise BenchmarkError(f"{len(problems)} generated expectations do not hold:\n  "
                             + "\n  ".join(problems[:12]))
    if without:
        raise BenchmarkError(f"cases that never reach the model: {', '.join(without[:10])}")
    cassette.save()
    return Recording(calls, len(cassette), cassette.path.stat().st_size)


# ---- timing -------------------------------------------------------------------------------

def flowbot_command() -> list[str]:
    """`flowbot` as installed beside this Python, else cli.py run by it."""
    script = Path(sys.executable).parent / "flowbot"
    return [str(script)] if script.exists() else [sys.executable, str(ROOT / "cli.py")]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)  # the user's pytest options would change what is timed
    env.pop("PYTEST_PLUGINS", None)
    return env


@dataclass(frozen=True)
class Command:
    seconds: list[float]
    output: str  # of the last run
    code: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def time_command(args: Sequence[str], cwd: Path, runs: int) -> Command:
    seconds = []
    done = None
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(list(args), cwd=cwd, env=_environment(), capture_output=True,
                              text=True, check=False)
        seconds.append(time.perf_counter() - start)
    assert done is not None
    return Command(seconds, done.stdout + done.stderr, done.returncode)


def passed_count(output: str) -> tuple[int, int]:
    """(passed, not passed) from pytest's last summary line."""
    last = output.strip().splitlines()[-1] if output.strip() else ""
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last)}
    passed = counts.pop("passed", 0)
    return passed, sum(n for word, n in counts.items()
                       if word in ("failed", "error", "errors", "skipped", "xfailed"))


def check_all_passed(command: Command, cases: int, what: str) -> None:
    passed, other = passed_count(command.output)
    if command.code != 0 or passed != cases or other:
        tail = "\n".join(command.output.strip().splitlines()[-15:])
        raise BenchmarkError(f"{what} must pass all {cases} cases (exit {command.code}, "
                             f"{passed} passed):\n{tail}")


@dataclass(frozen=True)
class InProcess:
    """Medians over runs, in seconds."""

    load_s: float  # load_convo of every file (flow, schema and meaning checks)
    cassette_s: float  # the replay provider of every file (each loads the cassette)
    cases_s: float  # CaseRunner.run of every case
    total_s: float
    turns: int
    replayed_calls: int


def time_in_process(files: Sequence[Path], runs: int) -> InProcess:
    """The same cases through CaseRunner directly: no subprocess, pytest or syrupy."""
    loads, cassettes, cases, totals = [], [], [], []
    turns = replayed = 0
    clock = time.perf_counter
    for _ in range(runs):
        start = clock()
        convos: list[ConvoFile] = [load_convo(path) for path in files]
        loaded = clock()
        runners = [CaseRunner(convo, provider_for(convo)) for convo in convos]
        ready = clock()
        turns = replayed = 0
        problems: list[str] = []
        for runner in runners:
            for case in runner.convo.cases.values():
                run = runner.run(case)
                problems += run.failures + ([run.error] if run.error else [])
                turns += len(run.results) - 1  # not the greeting
                replayed += sum(r.llm.get("calls", 0) for r in run.results
                                if r.llm and r.llm.get("replayed"))
        end = clock()
        if problems:
            raise BenchmarkError("the in-process run must pass every case:\n  "
                                 + "\n  ".join(problems[:12]))
        loads.append(loaded - start)
        cassettes.append(ready - loaded)
        cases.append(end - ready)
        totals.append(end - start)
    median = statistics.median
    return InProcess(median(loads), median(cassettes), median(cases), median(totals), turns,
                     replayed)


# ---- the whole benchmark ---------------------------------------------------------------------

def run(sizes: Sizes, workdir: Path) -> Report:
    project = workdir / "project"
    trivial = workdir / "trivial"
    generated = write_project(project, sizes)
    folders = ["project"]
    if sizes.fixed_costs:
        write_trivial(trivial, project / "cars.yaml")
        folders.append("trivial")
    recording = record(generated.files)
    flowbot = flowbot_command()

    update = time_command([*flowbot, "test", *folders, "--update"], workdir, 1)
    if update.code != 0:
        tail = "\n".join(update.output.strip().splitlines()[-15:])
        raise BenchmarkError(f"`flowbot test --update` failed (exit {update.code}):\n{tail}")

    timed = time_command([*flowbot, "test", "."], project, sizes.runs)
    check_all_passed(timed, generated.cases, "`flowbot test`")
    one = pytest_version = None
    if sizes.fixed_costs:
        one = time_command([*flowbot, "test", "."], trivial, sizes.runs)
        check_all_passed(one, 1, "`flowbot test` on the trivial case")
        pytest_version = time_command([sys.executable, "-m", "pytest", "--version"], workdir,
                                      sizes.runs)
    baseline = time_in_process(generated.files, sizes.runs)
    if baseline.replayed_calls != recording.model_calls:
        raise BenchmarkError(f"the replay made {baseline.replayed_calls} model calls, the "
                             f"recording {recording.model_calls}")
    if baseline.turns != generated.turns:
        raise BenchmarkError(f"the in-process run made {baseline.turns} turns, the files "
                             f"hold {generated.turns}")
    return _report(sizes, generated, recording, timed, baseline, one, pytest_version)


def _report(sizes: Sizes, generated: Generated, recording: Recording, timed: Command,
            baseline: InProcess, one: Command | None, pytest_version: Command | None) -> Report:
    n = generated.cases
    seconds = timed.median
    per_case_ms = seconds / n * 1000
    verdicts: dict[str, str] = {}
    rows = [
        Row("cases", "generated cases", f"{n} in {len(generated.files)} files, "
                                        f"{generated.turns} user turns "
                                        f"({generated.turns / n:.1f} a case)"),
        Row("model_calls", "replayed model calls",
            f"{recording.model_calls}, {recording.model_calls / generated.turns:.0%} of turns "
            f"(cassette: {recording.cassette_entries} recordings, "
            f"{recording.cassette_bytes / 1024:,.0f} KB)"),
    ]
    if n == TARGET_CASES:
        verdicts["flowbot_test"] = verdict(seconds <= SECONDS_TARGET)
        rows.append(Row("flowbot_test", "`flowbot test` (subprocess, replay)",
                        f"{seconds:.2f} s median", f"<= {SECONDS_TARGET:g} s",
                        verdicts["flowbot_test"]))
    else:
        rows.append(Row("flowbot_test", "`flowbot test` (subprocess, replay)",
                        f"{seconds:.2f} s median"))
    rows.append(Row("per_case", "  per case", f"{per_case_ms:.1f} ms"))
    projected = None
    if n != TARGET_CASES and one is not None:
        projected = one.median + (seconds - one.median) * TARGET_CASES / n
        verdicts["projected"] = verdict(projected <= SECONDS_TARGET)
        rows.append(Row("projected", f"  projected to {TARGET_CASES} cases",
                        f"{projected:.2f} s", f"<= {SECONDS_TARGET:g} s", verdicts["projected"]))
    rows += [
        Row("baseline", "in-process CaseRunner (no pytest)", f"{baseline.total_s:.2f} s median"),
        Row("baseline_split", "  load files / cassette x files / cases",
            f"{baseline.load_s:.2f} / {baseline.cassette_s:.2f} / {baseline.cases_s:.2f} s "
            f"({baseline.cases_s / n * 1000:.1f} ms a case)"),
        Row("ratio", "`flowbot test` / in-process", f"{seconds / baseline.total_s:.1f}x"),
    ]
    rest = None
    if one is not None and pytest_version is not None:
        rest = seconds - one.median - baseline.total_s
        rows += [
            Row("pytest_version", "fixed: `python -m pytest --version`",
                f"{pytest_version.median:.2f} s"),
            Row("trivial", "fixed: `flowbot test` on one trivial case", f"{one.median:.2f} s"),
            Row("rest", "rest: pytest + syrupy around the cases",
                f"{rest:.2f} s ({rest / n * 1000:.1f} ms a case)"),
        ]
    summary = timed.output.strip().splitlines()[-1].strip("= ")
    figures: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "sizes": asdict(sizes),
        "cases": n,
        "files": len(generated.files),
        "turns": generated.turns,
        "model_turns_generated": generated.model_turns,
        "model_calls": recording.model_calls,
        "cassette_entries": recording.cassette_entries,
        "cassette_bytes": recording.cassette_bytes,
        "all_passed": True,  # anything else is a BenchmarkError
        "flowbot_test_s": timed.seconds,
        "flowbot_test_median_s": seconds,
        "per_case_ms": per_case_ms,
        "projected_s": projected,
        "target_s": SECONDS_TARGET,
        "target_cases": TARGET_CASES,
        "in_process": asdict(baseline),
        "ratio": seconds / baseline.total_s,
        "pytest_version_s": None if pytest_version is None else pytest_version.median,
        "trivial_flowbot_test_s": None if one is None else one.median,
        "rest_s": rest,
        "summary": summary,
        "verdicts": verdicts,
    }
    return Report(rows, figures)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK.cases} cases, {QUICK.runs} timed run")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--cases", type=int, metavar="N", help="generated cases")
    parser.add_argument("--runs", type=int, metavar="R", help="timed runs of each command")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="generate into DIR (must not exist) and leave it there")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.cases is not None:
        sizes = dataclasses.replace(sizes, cases=args.cases)
    if args.runs is not None:
        sizes = dataclasses.replace(sizes, runs=args.runs)
    if sizes.cases < 1 or sizes.runs < 1:
        parser.error("--cases and --runs must be 1 or more")
    try:
        if args.keep is not None:
            if args.keep.exists():
                parser.error(f"{args.keep} exists")
            report = run(sizes, args.keep.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="flowbot-convo-bench-") as temp:
                report = run(sizes, Path(temp))
    except BenchmarkError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    print(f"`flowbot test` on {report.figures['cases']} generated conversation cases "
          f"(flows/cars.yaml, model replayed from a cassette), median of {sizes.runs} "
          f"run{'s' if sizes.runs != 1 else ''}; Python {report.figures['python']}\n")
    print(format_table(report.rows))
    print(f"\npytest said: {report.figures['summary']}")
    if args.json:
        print(json.dumps(report.figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
