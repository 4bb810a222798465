"""Collects the problems found in one flow file, each at a line and column."""

from __future__ import annotations

from engine.errors import Diagnostic
from engine.yamlsrc import Path_, Position, SourceMap


class Reporter:
    """Turns (document path, message) into positioned diagnostics."""

    def __init__(self, display_path: str, sources: SourceMap | None = None) -> None:
        self.display_path = display_path
        self.sources = sources or SourceMap()
        self.diagnostics: list[Diagnostic] = []

    def at(self, position: Position, message: str, severity: str = "error") -> None:
        one_line = " ".join(message.split())  # quoted flow text may hold line breaks
        self.diagnostics.append(
            Diagnostic(self.display_path, position.line, position.column, one_line, severity)
        )

    def _position(self, path: Path_, key: bool) -> Position:
        return self.sources.key(path) if key else self.sources.value(path)

    def error(self, path: Path_, message: str, key: bool = False) -> None:
        self.at(self._position(path, key), message, "error")

    def warning(self, path: Path_, message: str, key: bool = False) -> None:
        self.at(self._position(path, key), message, "warning")

    def inside(self, path: Path_, value: str, offset: int, message: str,
               severity: str = "error") -> None:
        """Report at character `offset` of the string `value` written at `path`."""
        self.at(self.sources.within(path, value, offset), message, severity)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def sorted(self) -> list[Diagnostic]:
        unique = dict.fromkeys(self.diagnostics)
        return sorted(unique, key=lambda d: (d.line, d.column, d.severity, d.message))
