"""Token counts estimated without a tokenizer download.

Real tokenizers (tiktoken) fetch their tables at run time, which a machine
without network cannot do. For budgeting history and for the cost benchmark an
estimate is enough: short words are about one token, long words about one per
four characters, every punctuation mark one, and each chat message carries a
few tokens of framing. Real usage, when a server reports it, always wins.

Tool definitions are billed as prompt tokens too. The API does not read them
as raw JSON but as a compact type signature (`intent: "browse" | "book",
confidence: number, …`), so that is what `estimate_tools` counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_PIECES = re.compile(r"\w+|[^\w\s]")
MESSAGE_OVERHEAD = 4  # role and separators around every chat message
REPLY_PRIMING = 3  # the assistant turn the model starts writing
TOOLS_OVERHEAD = 12  # the namespace wrapped around the tool signatures


def estimate_tokens(text: str) -> int:
    total = 0
    for piece in _PIECES.findall(text):
        total += 1 if len(piece) <= 4 else (len(piece) + 3) // 4
    return total


def estimate_messages(messages: Iterable[tuple[str, str]]) -> int:
    return REPLY_PRIMING + sum(MESSAGE_OVERHEAD + estimate_tokens(content)
                               for _, content in messages)


def _signature(schema: Mapping[str, Any]) -> str:
    """A JSON Schema as the compact type signature a model reads."""
    if "enum" in schema:
        return " | ".join(f'"{value}"' for value in schema["enum"])
    if schema.get("type") == "object":
        fields = []
        for name, sub in schema.get("properties", {}).items():
            note = f"// {sub['description']}\n" if sub.get("description") else ""
            optional = "" if name in schema.get("required", ()) else "?"
            fields.append(f"{note}{name}{optional}: {_signature(sub)},")
        return "{\n" + "\n".join(fields) + "\n}"
    return str(schema.get("type", "any"))


def tool_signature(tool: Mapping[str, Any]) -> str:
    function = tool.get("function", {})
    return (f"// {function.get('description', '')}\n"
            f"type {function.get('name', '')} = (_: {_signature(function.get('parameters', {}))})"
            " => any;")


def estimate_tools(tools: Iterable[Mapping[str, Any]]) -> int:
    signatures = [tool_signature(tool) for tool in tools]
    if not signatures:
        return 0
    return TOOLS_OVERHEAD + sum(estimate_tokens(signature) for signature in signatures)
