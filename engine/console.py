"""Talking to a flow in a terminal or through a pipe (`flowbot run`).

Three ways to print the same turns: an interactive chat with line editing,
history, colours and slash commands; plain text, one reply per line, when
stdin is not a terminal; and JSON lines (`--json`) for programs.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from engine.errors import FlowbotError
from engine.result import TurnResult
from engine.session import Session, load_session_file, save_session_file
from engine.turn import Engine

COMMANDS = {
    "/state": "show the current state and the question the bot is waiting on",
    "/slots": "show the slots filled so far",
    "/trace": "explain why the last turn went where it went",
    "/reset": "forget everything and start the conversation again",
    "/save NAME": "save this conversation as a test case in FLOW.convo.yaml",
    "/help": "list these commands",
    "/quit": "leave (Ctrl-D works too)",
}


# What `/save NAME` calls: (NAME, the user's turns, where the conversation began when it
# was resumed mid-flow or None, the engine's date) -> the line to print; a FlowbotError
# says why not. The caller binds the flow (cli.py: engine.testing.saving.save_from_chat),
# so this module needs nothing from engine.testing.
SaveCase = Callable[[str, list[str], dict[str, Any] | None, datetime.date], str]


@dataclass
class ChatOptions:
    as_json: bool = False
    session_path: Path | None = None
    interactive: bool = False
    color: bool = False
    save_case: SaveCase | None = None  # None: /save is not available


@dataclass
class Chat:
    engine: Engine
    options: ChatOptions
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    session: Session = field(init=False)
    last: TurnResult | None = field(default=None, init=False)
    # What /save writes: the user's messages of this conversation, and where it began
    # when it was resumed mid-flow (its earlier turns are not known).
    said: list[str] = field(default_factory=list, init=False)
    began: dict[str, Any] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.options.interactive:
            self._note("type /help for commands, /quit to leave")
        self.session = self._open_session()

    # ---- sessions ------------------------------------------------------------

    def _open_session(self) -> Session:
        path = self.options.session_path
        session = load_session_file(path) if path else None
        if session is not None and session.state not in self.engine.flow.states:
            self._note(f"the saved session is in state '{session.state}', which this flow "
                       "no longer has: starting a new conversation")
            session = None
        elif session is not None and session.ended:
            self._note("the saved conversation had ended: starting a new one")
            session = None
        if session is not None:
            self._fit_to_flow(session)
        if session is None:
            session = self.engine.new_session()
            self._show(self.engine.start(session))
            self._save(session)
        else:
            self._note(f"resumed session {session.id[:8]} in state '{session.state}'")
            if session.turns:
                self.began = self._resumed_at(session)
            if self.options.as_json:
                self._emit_json({"user": None, "resumed": True, "state": session.state,
                                 "slots": session.slots})
        return session

    def _resumed_at(self, session: Session) -> dict[str, Any]:
        """Where a resumed conversation began, for /save: its state and the values of
        the slots the flow declares. A case's `start:` re-enters the state (engine/testing/runner.py
        calls Engine.start(session, state)), which runs its lookups and actions again:
        their results (`matches`, a whole table's rows) need not be written down."""
        declared = self.engine.flow.slots
        slots = {name: copy.deepcopy(value) for name, value in session.slots.items()
                 if name in declared and value is not None}
        return {"state": session.state, "slots": slots}

    def _fit_to_flow(self, session: Session) -> None:
        """The flow may have changed since the session was saved: forget a pending
        question about a slot it no longer has, and states it no longer has."""
        flow = self.engine.flow
        if session.pending is not None and session.pending not in flow.slots:
            session.pending = None
        session.stack[:] = [state for state in session.stack if state in flow.states]

    def _save(self, session: Session) -> None:
        if self.options.session_path is not None:
            save_session_file(session, self.options.session_path)

    # ---- output ----------------------------------------------------------------

    def _style(self, text: str, **style: Any) -> str:
        return click.style(text, **style) if self.options.color else text

    def _print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _note(self, text: str) -> None:
        if self.options.as_json:
            return
        self._print(self._style(f"({text})", dim=True))

    def _emit_json(self, data: dict[str, Any]) -> None:
        self._print(json.dumps(data, ensure_ascii=False, sort_keys=False, default=str))

    def _prefix(self) -> str:
        return self._style("bot> ", fg="cyan", bold=True) if self.options.interactive else ""

    def _show(self, result: TurnResult, streamed: bool = False) -> None:
        self.last = result
        if self.options.as_json:
            self._emit_json(result.to_dict())
            return
        for notice in result.notices:
            self._print(self._style(notice, fg="yellow"))
        if streamed and not any(reply.streamed for reply in result.replies):
            failed = result.llm is not None and result.llm.get("error")
            self._note("the model's answer broke off" if failed
                       else "the model chose an action instead: the words above are set aside")
        for reply in result.replies:
            if not (streamed and reply.streamed):  # already on screen, token by token
                self._print(self._prefix() + reply.text)
            for item in reply.items:
                subtitle = f" - {item['subtitle']}" if item.get("subtitle") else ""
                self._print(f"  * {item['title']}{subtitle}")
            if reply.buttons:
                self._print("  " + "  ".join(self._style(f"[{b['title']}]", fg="green")
                                             for b in reply.buttons))

    # ---- commands ----------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a slash command; False means quit."""
        name = line.split()[0].lower()
        session = self.session
        if name in ("/quit", "/exit"):
            return False
        if name == "/state":
            pending = f", waiting for '{session.pending}'" if session.pending else ""
            self._print(f"state: {session.state}{pending}")
        elif name == "/slots":
            self._print(json.dumps(session.slots, indent=2, ensure_ascii=False, default=str))
        elif name == "/trace":
            self._print_trace()
        elif name == "/reset":
            self.said, self.began = [], None
            self.session = self.engine.new_session()
            self._show(self.engine.start(self.session))
            self._save(self.session)
        elif name == "/save":
            self._save_case(line.split()[1:])
        elif name == "/help":
            for command, about in COMMANDS.items():
                self._print(f"{command:<10} {about}")
        else:
            self._print(f"unknown command {name}; /help lists the commands")
        return True

    def _save_case(self, words: list[str]) -> None:
        save = self.options.save_case
        if save is None:
            self._print("saving test cases is not available here")
            return
        if len(words) != 1:
            self._print("usage: /save NAME  (letters, digits, '_' and '-')")
            return
        try:
            message = save(words[0], list(self.said), copy.deepcopy(self.began),
                           self.engine.today())
        except FlowbotError as exc:
            message = exc.format()
        self._print(message)

    def _print_trace(self) -> None:
        last = self.last
        if last is None:
            self._print("no turn yet")
            return
        self._print(f"intent: {last.intent}  route: {last.route}  confidence: {last.confidence}")
        for step in last.trace:
            self._print(f"  - {step}")
        for action in last.actions:
            self._print(f"  action: {action}")
        for event in last.events:
            self._print(f"  event: {json.dumps(event, ensure_ascii=False, default=str)}")
        if last.llm is not None:
            self._print_llm(last.llm)

    def _print_llm(self, llm: dict[str, Any]) -> None:
        replayed = ", replayed" if llm.get("replayed") else ""
        self._print(f"  llm: {llm['provider']} {llm.get('model') or ''} — "
                    f"{llm.get('prompt_tokens', 0)} prompt + {llm.get('completion_tokens', 0)} "
                    f"completion tokens, {llm.get('latency_ms', 0)} ms{replayed}")
        if llm.get("error"):
            self._print(f"  llm error ({llm.get('error_kind')}): {llm['error']}")
        for message in llm.get("messages", []):
            self._print(f"  sent [{message['role']}]:")
            for line in str(message["content"]).splitlines() or [""]:
                self._print(f"    {line}")

    # ---- the loop --------------------------------------------------------------------

    def turn(self, text: str) -> TurnResult | None:
        printed: list[str] = []

        def on_token(piece: str) -> None:
            if not printed:
                self.out.write(self._prefix())
            printed.append(piece)
            self.out.write(piece)
            self.out.flush()

        streaming = not self.options.as_json
        before = self.session.to_dict()
        try:
            result = self.engine.handle(self.session, text, on_token if streaming else None)
        except KeyboardInterrupt:
            if not self.options.interactive:
                raise
            # Ctrl-C while the model is slow: drop this turn, keep the conversation.
            self.session = Session.from_dict(before)
            self.out.write("\n")
            self._note("cancelled; the conversation is where it was")
            return None
        if printed:
            self.out.write("\n")
        self.said.append(text)
        self._save(self.session)
        self._show(result, streamed=bool(printed))
        return result

    def loop(self, lines: Iterator[str]) -> None:
        if self.session.ended:
            return
        for line in lines:
            if not self.options.as_json and line.strip().startswith("/"):
                if not self.command(line.strip()):
                    return
                continue
            if self.session.ended:  # a message after the end starts a new conversation
                self.said, self.began = [], None
            result = self.turn(line)
            if result is not None and result.ended:
                if not self.options.interactive:
                    return
                # At a terminal, stay: the finished conversation can still be saved.
                self._note("the conversation has ended: /save NAME keeps it as a test case, "
                           "a new message starts again, /quit leaves")


def terminal_lines(prompt: str) -> Iterator[str]:
    """Lines typed at an interactive prompt with editing and history."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import ANSI

    prompt_session: PromptSession[str] = PromptSession()
    while True:
        try:
            yield prompt_session.prompt(ANSI(prompt))
        except EOFError:
            return
        except KeyboardInterrupt:
            continue


def piped_lines(stream: IO[str]) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\r\n")


def use_color(interactive: bool) -> bool:
    return interactive and not os.environ.get("NO_COLOR")  # no-color.org: set and non-empty


def run_chat(engine: Engine, options: ChatOptions, lines: Callable[[], Iterator[str]] | None = None,
             out: IO[str] | None = None) -> None:
    chat = Chat(engine, options, out or sys.stdout)
    if lines is not None:
        chat.loop(lines())
    elif options.interactive:
        you = click.style("you> ", fg="magenta", bold=True) if options.color else "you> "
        chat.loop(terminal_lines(you))
    else:
        chat.loop(piped_lines(sys.stdin))
