"""What a turn needs from the engine: the pieces built once per flow and shared
by every session (engine.turn.Engine provides them)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Protocol

from engine.flow import Flow
from engine.llm.base import LLMProvider
from engine.machine import FlowMachine
from engine.routing import Router


class Parts(Protocol):
    """What a turn needs from the engine, built once per flow (engine.turn.Engine)."""

    flow: Flow
    router: Router
    machine: FlowMachine
    provider: LLMProvider
    today: Callable[[], datetime.date]
    max_input_chars: int
