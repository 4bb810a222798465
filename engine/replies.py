"""What the bot says: rendering a flow Response into a Reply for one turn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.flow import Response


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = self.buttons
        if self.items:
            data["items"] = self.items
        return data


def render_response(response: Response, context: Mapping[str, Any], turn: int) -> Reply:
    """Render one response; variations rotate with the turn number, so replies
    vary across a conversation yet every run of the same conversation matches."""
    variations = response.variations
    text = variations[turn % len(variations)].render(context)
    buttons = []
    for button in response.buttons:
        title = button.title.render(context)
        payload = button.payload.render(context) if button.payload else title
        buttons.append({"title": title, "payload": payload})
    items = []
    if response.items is not None:
        spec = response.items
        rows = context.get(spec.source) or []
        if isinstance(rows, Mapping):
            rows = [rows]
        for row in list(rows)[: spec.limit] if isinstance(rows, list) else []:
            item_context = {**context, "item": row}
            item: dict[str, Any] = {"title": spec.title.render(item_context)}
            if spec.subtitle is not None:
                item["subtitle"] = spec.subtitle.render(item_context)
            if isinstance(row, Mapping) and "id" in row:
                item["id"] = row["id"]
            items.append(item)
    return Reply(text, buttons, items)
