"""flowbot: a rule-plus-LLM conversational flow engine.

    from engine import load_flow, Engine
    engine = Engine(load_flow("flows/cars.yaml"))
    session = engine.new_session()
    engine.start(session)
    result = engine.handle(session, "show me suvs under 35k")
"""

from importlib import metadata

from engine.errors import (
    ActionError,
    Diagnostic,
    FlowbotError,
    FlowError,
    LLMError,
    StoreError,
    TemplateError,
)
from engine.loader import LoadReport, check_flow, load_flow
from engine.replies import Reply
from engine.result import TurnResult
from engine.session import MemoryStore, Session
from engine.turn import Engine

try:
    __version__ = metadata.version("flowbot")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ActionError",
    "Diagnostic",
    "Engine",
    "FlowError",
    "FlowbotError",
    "LLMError",
    "LoadReport",
    "MemoryStore",
    "Reply",
    "Session",
    "StoreError",
    "TemplateError",
    "TurnResult",
    "__version__",
    "check_flow",
    "load_flow",
]
