"""The LLM router: one tool the model may call to choose an intent.

The tool's JSON Schema lists exactly the intents allowed in the current state
(its own and the global ones) and the slots those intents take, typed. The
model either calls the tool or answers in words, so routing and answering cost
one request between them. What the model sends back is validated against the
same schema; anything else is refused, and the turn falls back.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from engine.errors import LLMBadOutput
from engine.llm.base import ModelRequest, RouteResult, SlotOption
from engine.llm.messages import ROUTE_TOOL

_NUMERIC = {"number", "money"}
MAX_ENUM = 12  # longer value lists (every model name) cost more tokens than they help


def _slot_schema(slot: SlotOption) -> dict[str, Any]:
    if slot.kind == "enum" and 0 < len(slot.values) <= MAX_ENUM:
        return {"type": "string", "enum": list(slot.values)}
    if slot.kind in _NUMERIC:
        return {"type": "number"}
    if slot.kind == "date":
        return {"type": "string", "description": "YYYY-MM-DD"}
    return {"type": "string"}


def parameters_schema(request: ModelRequest) -> dict[str, Any]:
    wanted = {name for option in request.intents for name in option.slots}
    slots = {s.name: _slot_schema(s) for s in request.slot_options if s.name in wanted}
    return {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": [option.name for option in request.intents]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "slots": {"type": "object", "properties": slots, "additionalProperties": False},
        },
        "required": ["intent", "confidence"],
        "additionalProperties": False,
    }


def route_tool(request: ModelRequest) -> dict[str, Any]:
    # Names and the author's descriptions only: examples would multiply the tokens
    # every call pays, and the rules have already tried them.
    lines = [f"{option.name}: {option.description}" if option.description else option.name
             for option in request.intents]
    return {"type": "function", "function": {
        "name": ROUTE_TOOL,
        "description": "Use when the customer wants one of: " + "; ".join(lines),
        "parameters": parameters_schema(request),
    }}


def parse_route(name: str, arguments: str, request: ModelRequest) -> RouteResult:
    """The model's tool call as a RouteResult; LLMBadOutput says why it is refused."""
    if name != ROUTE_TOOL:
        raise LLMBadOutput(f"the model called an unknown tool '{name[:40]}'")
    if not isinstance(arguments, str):
        raise LLMBadOutput("the model's routing answer is not JSON text")
    try:
        data = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise LLMBadOutput(f"the model's routing answer is not JSON ({exc.msg})") from None
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(parameters_schema(request)).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "answer"
        raise LLMBadOutput(f"the model's routing answer is invalid at {where}: "
                           f"{error.message[:120]}")
    return RouteResult(data["intent"], float(data["confidence"]), dict(data.get("slots", {})))
