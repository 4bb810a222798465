"""One exception hierarchy for flowbot.

Every error carries the exit code the CLI should use and knows how to print
itself, so the CLI never has to inspect exception types to decide what to say.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class FlowbotError(Exception):
    """Base of every error flowbot raises on purpose."""

    exit_code = 1

    def format(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a flow file, pointing at a line and column (1-based)."""

    path: str
    line: int
    column: int
    message: str
    severity: str = "error"  # "error" or "warning"

    def format(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"


class FlowError(FlowbotError):
    """A flow file could not be loaded: it carries every diagnostic found."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(self.format())

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    def format(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)


class ExpressionError(FlowbotError):
    """A condition expression is malformed; `offset` is the 0-based character index."""

    def __init__(self, message: str, offset: int = 0) -> None:
        self.message = message
        self.offset = offset
        super().__init__(f"{message} (at character {offset + 1})")


class ConvoFileError(FlowError):
    """A conversation test file (`*.convo.yaml`) is broken: every diagnostic found."""


class TemplateError(FlowbotError):
    """A response template failed to compile or render."""


class ActionError(FlowbotError):
    """An action failed while running a turn."""


class LLMError(FlowbotError):
    """The language model could not give a usable answer.

    The subclasses below are the failures a turn survives: the provider catches
    them, the state's fallback reply is said, and `kind` names the failure in
    the trace and in `--json`. Their messages never contain the API key.
    """

    kind = "error"


class LLMTimeout(LLMError):
    kind = "timeout"


class LLMConnectionError(LLMError):
    kind = "connection"


class LLMRateLimited(LLMError):
    kind = "rate_limit"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said


class LLMServerError(LLMError):
    """The server answered with an error status (5xx, or a 4xx such as a bad key)."""

    kind = "server"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class LLMBadOutput(LLMError):
    """The model answered, but with nothing usable: empty, malformed, invalid."""

    kind = "bad_output"


class LLMReplayMiss(LLMError):
    """Lenient replay found no recording for a request, so the offline provider answers."""

    kind = "replay_miss"


class CassetteError(FlowbotError):
    """Replay cannot serve a request (a strict miss), or a cassette is unreadable.

    Not an LLMError on purpose: a test running from a cassette must fail loudly
    when its conversation changed, not quietly fall back. `hint` says how to record
    the answer; whoever catches the error may replace it with one for its own command.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def format(self) -> str:
        return str(self) if self.hint is None else f"{self}\n{self.hint}"


class StoreError(FlowbotError):
    """A session could not be read or written."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest candidate, or ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
