"""Token counts estimated without a tokenizer download.

Real tokenizers (tiktoken) fetch their tables at run time, which a machine
without network cannot do. For budgeting history and for the cost benchmark an
estimate is enough: short words are about one token, long words about one per
four characters, every punctuation mark one, and each chat message carries a
few tokens of framing. Real usage, when a server reports it, always wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PIECES = re.compile(r"\w+|[^\w\s]")
MESSAGE_OVERHEAD = 4  # role and separators around every chat message
REPLY_PRIMING = 3  # the assistant turn the model starts writing


def estimate_tokens(text: str) -> int:
    total = 0
    for piece in _PIECES.findall(text):
        total += 1 if len(piece) <= 4 else (len(piece) + 3) // 4
    return total


def estimate_messages(messages: Iterable[tuple[str, str]]) -> int:
    return REPLY_PRIMING + sum(MESSAGE_OVERHEAD + estimate_tokens(content)
                               for _, content in messages)
