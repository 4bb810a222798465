"""Helpers for tests that need a small flow written on the spot."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

from engine import Engine, Session, load_flow

TODAY = datetime.date(2026, 11, 30)


def write_flow(directory: Path, body: str, name: str = "flow.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def engine_for(directory: Path, body: str) -> Engine:
    return Engine(load_flow(write_flow(directory, body)), today=lambda: TODAY)


def started(engine: Engine) -> Session:
    session = engine.new_session("t")
    engine.start(session)
    return session
