"""What the bot says: rendering a flow Response into a Reply for one turn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.flow import FIELD_END, ROW_END, ROWS_NAME, Response


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    streamed: bool = False  # the text already reached the user token by token

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
        shown = list(rows)[: spec.limit] if isinstance(rows, list) else []
        if shown:
            rendered = spec.all_rows.render({**context, ROWS_NAME: shown}).split(ROW_END)
            for row, fields in zip(shown, rendered, strict=False):
                title, _, subtitle = fields.partition(FIELD_END)
                item: dict[str, Any] = {"title": title.strip()}
                if spec.subtitle is not None:
                    item["subtitle"] = subtitle.strip()
                if isinstance(row, Mapping) and "id" in row:
                    item["id"] = row["id"]
                items.append(item)
    return Reply(text, buttons, items)
