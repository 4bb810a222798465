"""Language-model providers behind one small protocol."""

from engine.llm.base import LLMProvider, LLMReply, ReplyRequest, RouteRequest, RouteResult
from engine.llm.offline import OfflineProvider

__all__ = [
    "LLMProvider",
    "LLMReply",
    "OfflineProvider",
    "ReplyRequest",
    "RouteRequest",
    "RouteResult",
]
