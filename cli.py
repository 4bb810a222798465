"""flowbot command line (placeholder until the CLI lands)."""

from __future__ import annotations


def main() -> None:
    raise SystemExit(0)
