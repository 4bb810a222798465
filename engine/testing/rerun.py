"""Re-running recorded conversations against a flow, and saying where they now differ.

Each conversation gets a fresh session: started as `flowbot run` starts one,
or, when it was resumed, given the recorded slots and started in the recorded
state, which asks again for the slot the live session was waiting for (that
entry's replies are not compared: the recording has none). Every recorded
user message then goes through `Engine.handle`, and the turn is compared with
its recording: state, intent, route, whether the conversation ended, and the
reply texts. When the model answered a turn both then and now, its wording is
not compared: a model words the same answer differently from run to run; nor
is it when the recording does not hold the replies.

The comparison is a pure function of a recorded turn and what was observed;
only `rerun` touches the engine, and `render` only formats the report.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from engine.errors import FlowbotError, did_you_mean
from engine.result import TurnResult
from engine.testing.transcripts import RecordedConversation, RecordedTurn, answered_by_model
from engine.turn import Engine

Value = str | bool | None


@dataclass(frozen=True)
class Observed:
    """What a turn does now, in the terms a recording holds."""

    replies: tuple[str, ...]
    state: str
    intent: str | None
    route: str
    ended: bool
    llm: bool

    @classmethod
    def of(cls, result: TurnResult) -> Observed:
        return cls(tuple(result.texts), result.state, result.intent, result.route,
                   result.ended, answered_by_model(result.route, result.llm))


@dataclass(frozen=True)
class Difference:
    what: str  # "state", "intent", "route", "ended" or "reply"
    old: Value
    new: Value

    def headline(self) -> str:
        if self.what == "reply":
            return "reply differs"
        return f"{self.what} {self.old!r} -> {self.new!r}"

    def detail(self) -> list[str]:
        """For replies, the lines removed (-) and added (+); nothing otherwise."""
        if self.what != "reply":
            return []
        return reply_diff(str(self.old or ""), str(self.new or ""))

    def __str__(self) -> str:
        if self.what == "reply":
            return "reply: " + " / ".join(self.detail())
        return f"{self.what}: {self.old!r} -> {self.new!r}"


@dataclass(frozen=True)
class TurnReport:
    number: int  # 0 for the greeting
    user: str | None
    line: int
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def same(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class ConversationReport:
    number: int
    line: int
    recorded_turns: int
    greeting: TurnReport | None = None
    turns: tuple[TurnReport, ...] = ()
    problem: str | None = None  # why it could not be re-run (to the end)

    @property
    def same(self) -> bool:
        reports = [*self.turns, *([self.greeting] if self.greeting else [])]
        return self.problem is None and all(report.same for report in reports)


@dataclass(frozen=True)
class ReplayReport:
    conversations: tuple[ConversationReport, ...]

    @property
    def turns(self) -> int:
        return sum(conversation.recorded_turns for conversation in self.conversations)

    @property
    def differing_turns(self) -> int:
        return sum(not turn.same for c in self.conversations for turn in c.turns)

    @property
    def same(self) -> bool:
        return all(conversation.same for conversation in self.conversations)


def reply_diff(old: str, new: str) -> list[str]:
    """The reply lines only in the recording (-) and only in the re-run (+)."""
    lines = [line for line in difflib.ndiff(old.splitlines(), new.splitlines())
             if line.startswith(("- ", "+ "))]
    return lines or [f"- {old!r}", f"+ {new!r}"]  # they differ in blank lines alone


def compare(recorded: RecordedTurn, observed: Observed) -> tuple[tuple[Difference, ...],
                                                                  tuple[str, ...]]:
    """The differences between a recorded turn and what it does now, and notes on
    what was left out; only the fields the recording holds are compared."""
    fields: tuple[tuple[str, Value, Value], ...] = (
        ("state", recorded.state, observed.state),
        ("intent", recorded.intent, observed.intent),
        ("route", recorded.route, observed.route),
        ("ended", recorded.ended, observed.ended),
    )
    differences = [Difference(name, old, new) for name, old, new in fields
                   if name in recorded.recorded and old != new]
    notes: list[str] = []
    if recorded.replies is None:
        notes.append("replies not compared: the recording does not hold them")
    elif recorded.llm and observed.llm:
        notes.append("reply wording not compared: the model answered both then and now")
    else:
        old, new = "\n".join(recorded.replies), "\n".join(observed.replies)
        if old != new:
            differences.append(Difference("reply", old, new))
        if recorded.llm:
            notes.append("the model answered in the recording but not now (is it off? "
                         "see --llm and --cassette)")
    return tuple(differences), tuple(notes)


def _turn_report(number: int, recorded: RecordedTurn, result: TurnResult) -> TurnReport:
    differences, notes = compare(recorded, Observed.of(result))
    return TurnReport(number, recorded.user, recorded.line, differences, notes)


def rerun(engine: Engine, conversations: Iterable[RecordedConversation]) -> ReplayReport:
    return ReplayReport(tuple(rerun_conversation(engine, conversation, number)
                              for number, conversation in enumerate(conversations, start=1)))


def rerun_conversation(engine: Engine, recorded: RecordedConversation,
                       number: int) -> ConversationReport:
    report = ConversationReport(number, recorded.line, len(recorded.turns))
    state = recorded.start_state
    if state is not None and state not in engine.flow.states:
        return replace(report, problem=f"it resumed in state '{state}', which the flow no "
                       f"longer has{did_you_mean(state, engine.flow.states)}")
    session = engine.new_session()
    greeting: TurnReport | None = None
    turns: list[TurnReport] = []
    try:
        if state is not None:  # resumed: its arrival replies were not recorded
            session.slots = copy.deepcopy(dict(recorded.start_slots))  # the engine changes them
        result = engine.start(session, state)  # in a resumed state: asks what it waits for
        if recorded.greeting is not None:
            greeting = _turn_report(0, recorded.greeting, result)
        for index, turn in enumerate(recorded.turns, start=1):
            result = engine.handle(session, turn.user or "")
            turns.append(_turn_report(index, turn, result))
    except FlowbotError as exc:  # e.g. a strict cassette with no answer for a new request
        opening = "the greeting" if state is None else f"the start in state '{state}'"
        failed = f"turn {len(turns) + 1}" if session.turns else opening
        return replace(report, greeting=greeting, turns=tuple(turns),
                       problem=f"{failed} failed, the rest was not re-run: {exc.format()}")
    return replace(report, greeting=greeting, turns=tuple(turns))


# ---- rendering -----------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _differ(count: int, noun: str) -> str:
    return f"{_plural(count, noun)} {'differs' if count == 1 else 'differ'}"


def _quote(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return '"' + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + '"'


def _turn_lines(where: str, turn: TurnReport, verbose: bool) -> list[str]:
    label = "greeting" if turn.user is None else f"turn {turn.number} {_quote(turn.user)}"
    if turn.same and not verbose:
        return []
    headline = "; ".join(d.headline() for d in turn.differences) or "same"
    lines = [f"{where}, {label}: {headline}"]
    for difference in turn.differences:
        lines.extend(f"    {line}" for line in difference.detail())
    lines.extend(f"    note: {note}" for note in turn.notes)
    return lines


def summary(report: ReplayReport) -> str:
    head = (f"{_plural(len(report.conversations), 'conversation')}, "
            f"{_plural(report.turns, 'turn')}: ")
    if report.same:
        return head + "all the same"
    greetings = sum(c.greeting is not None and not c.greeting.same for c in report.conversations)
    failed = sum(c.problem is not None for c in report.conversations)
    parts = [_differ(count, noun) for count, noun in ((report.differing_turns, "turn"),
                                                      (greetings, "greeting")) if count]
    if failed:
        parts.append(f"{_plural(failed, 'conversation')} not re-run to the end")
    return head + ", ".join(parts)


def render(report: ReplayReport, verbose: bool = False, quiet: bool = False) -> list[str]:
    """The report as lines: each differing turn (every turn when verbose) and a summary."""
    lines: list[str] = []
    for conversation in [] if quiet else report.conversations:
        where = f"conversation {conversation.number} (line {conversation.line})"
        if conversation.greeting is not None:
            lines.extend(_turn_lines(where, conversation.greeting, verbose))
        for turn in conversation.turns:
            lines.extend(_turn_lines(where, turn, verbose))
        if conversation.problem is not None:
            first, *rest = conversation.problem.splitlines()
            lines.append(f"{where}: {first}")
            lines.extend(f"    {line}" for line in rest)
    lines.append(summary(report))
    return lines
