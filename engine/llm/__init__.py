"""Language-model providers behind one small protocol.

`engine.llm.setup.provider_from_env` chooses one (live, record, replay or
offline); importing this package alone does not load the openai client.
"""

from engine.llm.base import (
    IntentOption,
    KnowledgeSnippet,
    LLMProvider,
    ModelOutcome,
    ModelRequest,
    RouteResult,
    SlotOption,
)
from engine.llm.chat import ChatAnswer, ChatBackend, ChatCall, TokenSink, ToolCall
from engine.llm.offline import OfflineProvider

__all__ = [
    "ChatAnswer",
    "ChatBackend",
    "ChatCall",
    "IntentOption",
    "KnowledgeSnippet",
    "LLMProvider",
    "ModelOutcome",
    "ModelRequest",
    "OfflineProvider",
    "RouteResult",
    "SlotOption",
    "TokenSink",
    "ToolCall",
]
