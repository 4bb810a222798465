"""The `flowbot` command: parse arguments, call the engine, print. Nothing else."""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from functools import partial, wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from engine import Engine, FlowbotError, __version__, check_flow, load_flow
from engine.console import ChatOptions, run_chat, use_color
from engine.graph import to_dot, to_mermaid
from engine.llm.setup import MODES, LLMOptions, provider_from_env
from engine.testing.command import RunOptions, run_tests
from engine.testing.convo import check_convo, is_convo_file
from engine.testing.coverage import DEFAULT_JSON
from engine.testing.rerun import render, rerun
from engine.testing.saving import save_from_chat
from engine.testing.transcripts import read_transcript

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Print a FlowbotError as its message (never a traceback) and exit with its code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FlowbotError as exc:
            click.echo(exc.format(), err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="flowbot")
def main() -> None:
    """flowbot: rule-plus-LLM conversational flows written in YAML."""


@main.command()
@click.argument("flow", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per turn.")
@click.option("--session", "session_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the conversation to FILE after every turn and resume it next time.")
@click.option("--max-input", type=click.IntRange(min=1), default=None,
              help="Longest user message accepted, in characters (default: the flow's setting).")
@click.option("--llm", "llm_mode", type=click.Choice(MODES), default=None,
              help="live: ask the model; record: ask it and write a cassette; replay: answer "
                   "from the cassette, no network; offline: no model. [default: FLOWBOT_LLM, "
                   "else live when a key or base URL is set]")
@click.option("--cassette", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cassette file for record/replay [default: FLOWBOT_CASSETTE, else "
                   "cassettes/FLOW.llm.yaml beside the flow].")
@click.option("--lenient", is_flag=True, default=None,
              help="In replay, answer an unrecorded request offline instead of failing.")
@reports_errors
def run(flow: Path, as_json: bool, session_path: Path | None, max_input: int | None,
        llm_mode: str | None, cassette: Path | None, lenient: bool | None) -> None:
    """Chat with FLOW in the terminal, or read one message per line from a pipe.

    \b
    Interactive commands: /state /slots /trace /reset /save NAME /help /quit
    The API key comes from OPENAI_API_KEY or a .env file in this directory.
    """
    loaded = load_flow(flow)
    provider = provider_from_env(loaded, options=LLMOptions(llm_mode, cassette, lenient or None))
    engine = Engine(loaded, provider=provider, max_input_chars=max_input)
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not as_json
    options = ChatOptions(as_json=as_json, session_path=session_path, interactive=interactive,
                          color=use_color(interactive), save_case=partial(save_from_chat, flow))
    try:
        run_chat(engine, options)
    except KeyboardInterrupt:  # Ctrl-C while reading a pipe: stop quietly, like a shell
        sys.exit(130)


@main.command()
@click.argument("flows", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
def validate(flows: tuple[Path, ...], strict: bool) -> None:
    """Check FLOWS and print every problem as FILE:LINE:COL: error|warning: MESSAGE.

    Conversation test files (*.convo.yaml) are checked too, with the flow they test.

    Exit 0 when every flow is valid, 1 when any has an error (or a warning with --strict).
    """
    failed = False
    for path in flows:
        diagnostics = check_convo(path) if is_convo_file(path) else check_flow(path).diagnostics
        for diagnostic in diagnostics:
            click.echo(diagnostic.format(), err=True)
        errors = [d for d in diagnostics if d.severity == "error"]
        warnings = [d for d in diagnostics if d.severity == "warning"]
        if errors or (strict and warnings):
            failed = True
        else:
            count = len(warnings)
            click.echo(f"{path}: ok" + (f" ({count} warning{'s' if count > 1 else ''})"
                                        if count else ""))
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("flow", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid state diagram or Graphviz DOT.")
@reports_errors
def graph(flow: Path, fmt: str) -> None:
    """Print the state diagram of FLOW as text."""
    loaded = load_flow(flow)
    click.echo(to_mermaid(loaded) if fmt == "mermaid" else to_dot(loaded), nl=False)


@main.command()
@click.argument("transcript", type=click.Path(path_type=Path))
@click.option("--flow", "flow", type=click.Path(path_type=Path), required=True, metavar="FLOW",
              help="The flow to re-run the recorded conversations against.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              metavar="YYYY-MM-DD",
              help="The date the conversations were recorded on, so that 'Friday' or "
                   "'tomorrow' mean the days they meant then [default: today].")
@click.option("--llm", "llm_mode", type=click.Choice(MODES), default=None,
              help="live, record, replay or offline, as for `flowbot run` [default: "
                   "FLOWBOT_LLM, else live when a key or base URL is set, else offline].")
@click.option("--cassette", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cassette file for record/replay, as for `flowbot run`.")
@click.option("--lenient", is_flag=True, default=None,
              help="In replay, answer an unrecorded request offline instead of failing.")
@click.option("--verbose", "-v", is_flag=True,
              help="List every turn, the same ones too, and what was not compared.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@reports_errors
def replay(transcript: Path, flow: Path, today: datetime.datetime | None, llm_mode: str | None,
           cassette: Path | None, lenient: bool | None, verbose: bool, quiet: bool) -> None:
    """Re-run the conversations in TRANSCRIPT against FLOW and print where they now differ.

    \b
    TRANSCRIPT: JSON lines from `flowbot run --json` (several runs may be
    concatenated), or {"role": "user"|"bot", "text": ...} lines.
    Exit 0 when every turn is the same, 1 when any differs, 2 for bad input.

    \b
    Dates: relative dates are read against today's date unless --today gives
    the day the transcript was recorded; without it, a recording from another
    day may differ wherever the bot names a date.

    \b
    The model: as with `flowbot run`, unless --llm or FLOWBOT_LLM says
    otherwise, open-ended turns ask the live model whenever OPENAI_API_KEY or
    OPENAI_BASE_URL is set (in the environment or .env) or the flow has an
    llm.base_url: that costs money and is not repeatable. Use --llm replay
    with a cassette, or --llm offline, for repeatable runs. The model in use
    is named on stderr (never the key).
    """
    conversations = read_transcript(transcript)
    loaded = load_flow(flow)
    provider = provider_from_env(loaded, options=LLMOptions(llm_mode, cassette, lenient or None))
    if provider.enabled:  # names the model and server; the key is never shown
        click.echo(provider.describe(), err=True)
    day = today.date() if today is not None else None  # click.DateTime gives a datetime
    engine = Engine(loaded, provider=provider,
                    today=(lambda: day) if day is not None else datetime.date.today)
    report = rerun(engine, conversations)
    for line in render(report, verbose=verbose, quiet=quiet):
        click.echo(line)
    sys.exit(0 if report.same else 1)


@main.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--update", is_flag=True,
              help="Accept the current behaviour: rewrite the snapshots that differ, write "
                   "missing ones and delete those of cases that no longer exist.")
@click.option("--record", is_flag=True,
              help="Ask the live model (OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
                   "server) and re-record the cassettes, instead of replaying them.")
@click.option("-k", "keyword", metavar="EXPR",
              help="Only run cases whose names match EXPR, as pytest -k "
                   "(e.g. 'booking and not cancel').")
@click.option("--coverage", is_flag=True,
              help="Print which states, transitions, intents and slots the tests exercised, "
                   "and write them to flowbot-coverage.json.")
@click.option("--coverage-json", default=DEFAULT_JSON, show_default=True,
              metavar="FILE", help="Where --coverage writes its JSON.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="N",
              help="Fail when a flow's coverage is below N percent (implies --coverage).")
@click.option("-v", "--verbose", count=True, help="List every case (-vv: more detail).")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing case.")
def test(paths: tuple[Path, ...], update: bool, record: bool, keyword: str | None,
         coverage: bool, coverage_json: str, min_coverage: float | None, verbose: int,
         exitfirst: bool) -> None:
    """Run the conversation tests (*.convo.yaml) under PATHS [default: this folder].

    \b
    Each case replays its user turns, checks the expectations written in it and
    compares the whole conversation with its snapshot in __snapshots__/.
    Exit codes are pytest's: 0 passed, 1 failed, 2 interrupted, 4 usage, 5 no tests.
    """
    options = RunOptions(update=update, record=record, keyword=keyword, coverage=coverage,
                         coverage_json=coverage_json, min_coverage=min_coverage,
                         verbose=verbose, exitfirst=exitfirst)
    sys.exit(run_tests(list(paths), options))


if __name__ == "__main__":
    main()
