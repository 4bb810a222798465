"""Language-model providers behind one small protocol."""

import os
from collections.abc import Mapping

from engine.llm.base import LLMProvider, LLMReply, ReplyRequest, RouteRequest, RouteResult
from engine.llm.offline import OfflineProvider


def provider_from_env(env: Mapping[str, str] | None = None) -> LLMProvider:
    """The provider the environment asks for. Only the offline provider exists in
    this version; the notice says honestly why the model is off."""
    env = os.environ if env is None else env
    if not env.get("OPENAI_API_KEY"):
        return OfflineProvider()
    return OfflineProvider(
        reason="this version of flowbot has no OpenAI provider yet, so OPENAI_API_KEY is unused",
        hint="",
    )

__all__ = [
    "LLMProvider",
    "LLMReply",
    "OfflineProvider",
    "ReplyRequest",
    "RouteRequest",
    "RouteResult",
    "provider_from_env",
]
