"""Turn schema-valid flow data into a compiled `Flow`, collecting every problem.

The schema has already checked shapes; this module checks meaning: names that
must exist, regexes, conditions, templates, data files and Python actions. It
never stops at the first problem: each is reported with the position of the
key or value that causes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine import actions as action_mod
from engine.data import columns_of, load_tables
from engine.diagnostics import Reporter
from engine.errors import did_you_mean
from engine.flow import (
    Action,
    CallPython,
    ClearSlots,
    CollectStep,
    Flow,
    Intent,
    KnowledgeEntry,
    LLMSettings,
    Lookup,
    Messages,
    Response,
    Row,
    SetSlots,
    Settings,
    Slot,
    State,
    StateLLM,
    Transition,
)
from engine.slot_types import build_slot_type
from engine.snippets import SnippetCompiler
from engine.templates import Template
from engine.yamlsrc import Path_

DEFAULT_MESSAGES = {
    "fallback": "Sorry, I didn't understand that. Could you put it another way?",
    "empty": "I didn't catch anything there. What would you like to do?",
    "too_long": (
        "That message is too long for me ({{ length }} characters; the limit is {{ limit }}). "
        "Could you shorten it?"
    ),
    "invalid": (
        "Sorry, {% if error %}the {{ slot|replace('_', ' ') }} {{ error }}"
        "{% else %}that doesn't look like a valid answer{% endif %}."
    ),
    "llm_off": (
        "(The language model is off: {{ reason }}. I answer from my rules and FAQ only."
        "{% if hint %} {{ hint }}{% endif %})"
    ),
}


class FlowBuilder(SnippetCompiler):
    """Builds one Flow; read `flow` and `reporter.diagnostics` afterwards."""

    def __init__(self, raw: Mapping[str, Any], path: Path, reporter: Reporter,
                 tables: Mapping[str, tuple[Row, ...]] | None = None) -> None:
        self.raw = raw
        self.replaced_tables = tables or {}  # rows a test puts in place of a data file
        self.path = path
        self.base = path.parent
        self.state_names = set(raw.get("states", {}))
        self.intent_names = set(raw.get("intents", {}))
        self.slot_names = set(raw.get("slots", {}))
        self.data: dict[str, tuple[Row, ...]] = {}
        assigned, has_python = self._scan_actions()
        super().__init__(reporter, self.slot_names | assigned, has_python)
        self.settings = Settings(**raw.get("settings", {}))

    # ---- helpers ---------------------------------------------------------

    def _scan_actions(self) -> tuple[set[str], bool]:
        """Names actions assign (lookup `as`, `set` keys), and whether Python actions run."""
        names: set[str] = set()
        python = False
        todo: list[Any] = [self.raw]
        while todo:
            node = todo.pop()
            if isinstance(node, dict):
                python = python or isinstance(node.get("python"), str)
                if "lookup" in node and isinstance(node.get("as"), str):
                    names.add(node["as"])
                if isinstance(node.get("set"), dict):
                    names.update(node["set"])
                todo.extend(node.values())
            elif isinstance(node, list):
                todo.extend(node)
        return names, python

    def slots(self) -> dict[str, Slot]:
        result = {}
        for name, spec in self.raw.get("slots", {}).items():
            at: Path_ = ("slots", name)
            kind = spec["type"]
            values = [str(v) for v in spec.get("values", [])]
            if "values_from" in spec:
                found = self._values_from(spec["values_from"], (*at, "values_from"))
                if found is None:  # already reported, or the table could not be read
                    continue
                values += found
            if kind == "enum" and not values:
                self.r.error(at, f"enum slot '{name}' needs 'values', or 'values_from' "
                                 "naming a column with values", key=True)
                continue
            try:
                parser = build_slot_type(kind, values=tuple(dict.fromkeys(values)),
                                         synonyms=spec.get("synonyms"), pattern=spec.get("pattern"))
            except ValueError as exc:
                self.r.error(at, f"slot '{name}': {exc}", key=True)
                continue
            mentions = tuple(p for i, src in enumerate(spec.get("mentions", []))
                             if (p := self._regex(src, (*at, "mentions", i))) is not None)
            if spec.get("min") is not None and spec.get("max") is not None and (
                    spec["min"] > spec["max"]):
                self.r.error((*at, "min"), f"slot '{name}': min ({spec['min']:g}) is more than "
                                           f"max ({spec['max']:g}), so no value is valid")
            on_fail = spec.get("on_fail")
            if on_fail is not None:
                self._ref("state", on_fail, self.state_names, (*at, "on_fail"))
            result[name] = Slot(
                name=name, kind=kind, parser=parser, mentions=mentions,
                minimum=spec.get("min"), maximum=spec.get("max"), after=spec.get("after"),
                prompt=self._optional(self.response, spec, "prompt", at),
                reprompt=self._optional(self.response, spec, "reprompt", at),
                max_attempts=spec.get("max_attempts", self.settings.max_attempts),
                on_fail=on_fail,
            )
        return result

    def _values_from(self, ref: str, at: Path_) -> list[str] | None:
        """The values of TABLE.COLUMN; None when that cannot be known (and is reported)."""
        table, column = ref.split(".", 1)
        if not self._ref("data table", table, set(self.data), at):
            return None
        columns = self.columns[table]
        if columns is None:
            return None
        if column not in columns:
            self.r.inside(at, ref, len(table) + 1, f"table '{table}' has no column '{column}'"
                                                   f"{did_you_mean(column, columns)}")
            return None
        return [str(row[column]) for row in self.data[table]
                if row.get(column) not in (None, "")]

    def intents(self) -> dict[str, Intent]:
        result = {}
        for name, spec in self.raw.get("intents", {}).items():
            at: Path_ = ("intents", name)
            patterns = self._patterns(spec, at)
            for i, slot in enumerate(spec.get("slots", [])):
                self._ref("slot", slot, self.slot_names, (*at, "slots", i))
            if not any(spec.get(k) for k in ("patterns", "keywords", "examples")):
                self.r.warning(at, f"intent '{name}' has no patterns, keywords or examples, "
                                   "so only the LLM router can choose it", key=True)
            result[name] = Intent(name, patterns, tuple(spec.get("examples", [])),
                                  tuple(spec.get("slots", [])), spec.get("description", ""))
        return result

    def knowledge(self) -> tuple[KnowledgeEntry, ...]:
        entries = []
        seen: set[str] = set()
        for i, spec in enumerate(self.raw.get("knowledge", [])):
            at: Path_ = ("knowledge", i)
            if spec["id"] in seen:
                self.r.error((*at, "id"), f"duplicate knowledge id '{spec['id']}'")
            seen.add(spec["id"])
            entries.append(KnowledgeEntry(spec["id"], tuple(spec["questions"]),
                                          self.response(spec["answer"], (*at, "answer")),
                                          self._patterns(spec, at)))
        return tuple(entries)

    def actions(self, specs: list[Any], at: Path_) -> tuple[Action, ...]:
        result: list[Action] = []
        for i, spec in enumerate(specs):
            action_at: Path_ = (*at, i)
            if "lookup" in spec:
                lookup = self._lookup(spec, action_at)
                if lookup is not None:
                    result.append(lookup)
            elif "set" in spec:
                values = {
                    name: (self.template(value, (*action_at, "set", name))
                           if isinstance(value, str) and "{" in value else value)
                    for name, value in spec["set"].items()
                }
                result.append(SetSlots(values))
            elif "clear" in spec:
                names = spec["clear"]
                if names == "all":
                    result.append(ClearSlots(None))
                else:
                    for j, name in enumerate(names):
                        self._ref("slot", name, self.variables, (*action_at, "clear", j))
                    result.append(ClearSlots(tuple(names)))
            else:
                try:
                    function = action_mod.import_python_action(spec["python"], self.base)
                except action_mod.ActionImportError as exc:
                    self.r.error((*action_at, "python"), str(exc))
                    continue
                result.append(CallPython(spec["python"], function))
        return tuple(result)

    def _lookup(self, spec: Mapping[str, Any], at: Path_) -> Lookup | None:
        table = spec["lookup"]
        if not self._ref("data table", table, set(self.data), (*at, "lookup")):
            return None
        columns = self.columns[table]
        where = (self.expression(spec["where"], (*at, "where"), table)
                 if "where" in spec else None)
        sort = spec.get("sort")
        descending = bool(sort and sort.startswith("-"))
        sort_column = sort.lstrip("-") if sort else None
        if sort_column and columns is not None and sort_column not in columns:
            self.r.error((*at, "sort"), f"table '{table}' has no column '{sort_column}'"
                                        f"{did_you_mean(sort_column, columns)}")
        return Lookup(table, spec["as"], where, sort_column, descending, spec.get("limit"),
                      spec.get("one", False))

    def transition(self, spec: Any, source: str | None, intent: str | None, at: Path_
                   ) -> Transition:
        if isinstance(spec, str):
            self._ref("state", spec, self.state_names, at)
            return Transition(source, intent, target=spec)
        target = spec.get("goto")
        if target is not None:
            self._ref("state", target, self.state_names, (*at, "goto"))
        if target is not None and spec.get("return"):
            self.r.error(at, "a transition has either 'goto' or 'return: true', not both")
        return Transition(
            source=source, intent=intent, target=target,
            back=bool(spec.get("return")), remember=bool(spec.get("remember")),
            when=self._optional(self.expression, spec, "when", at),
            actions=self.actions(spec.get("do", []), (*at, "do")),
            say=self._optional(self.response, spec, "say", at),
            priority=spec.get("priority") == "high",
        )

    def state(self, name: str, spec: Mapping[str, Any]) -> State:
        at: Path_ = ("states", name)
        collect = []
        for i, item in enumerate(spec.get("collect", [])):
            item_at: Path_ = (*at, "collect", i)
            if isinstance(item, str):
                item = {"slot": item}
            if not self._ref("slot", item["slot"], self.slot_names, item_at):
                continue
            if item.get("on_fail") is not None:
                self._ref("state", item["on_fail"], self.state_names, (*item_at, "on_fail"))
            collect.append(CollectStep(
                slot=item["slot"],
                prompt=self._optional(self.response, item, "prompt", item_at),
                reprompt=self._optional(self.response, item, "reprompt", item_at),
                max_attempts=item.get("max_attempts"), on_fail=item.get("on_fail"),
            ))
        transitions = []
        for intent, body in spec.get("on", {}).items():
            on_at: Path_ = (*at, "on", intent)
            self._ref("intent", intent, self.intent_names, on_at, key=True)
            bodies = body if isinstance(body, list) else [body]
            for i, one in enumerate(bodies):
                one_at = (*on_at, i) if isinstance(body, list) else on_at
                transitions.append(self.transition(one, name, intent, one_at))
        next_spec = spec.get("next")
        nexts: list[Transition] = []
        if isinstance(next_spec, str):
            nexts.append(self.transition(next_spec, name, None, (*at, "next")))
        elif isinstance(next_spec, list):
            nexts = [self.transition(item, name, None, (*at, "next", i))
                     for i, item in enumerate(next_spec)]
        return State(
            name=name,
            intro=self._optional(self.response, spec, "intro", at),
            collect=tuple(collect),
            actions=self.actions(spec.get("do", []), (*at, "do")),
            say=self._optional(self.response, spec, "say", at),
            transitions=tuple(transitions),
            next=tuple(nexts),
            prompt=self._optional(self.template, spec, "prompt", at),
            fallback=self._optional(self.response, spec, "fallback", at),
            final=bool(spec.get("final", False)),
            llm=StateLLM(**spec.get("llm", {})),
        )

    def global_transitions(self) -> tuple[Transition, ...]:
        result = []
        for i, spec in enumerate(self.raw.get("global", [])):
            at: Path_ = ("global", i)
            self._ref("intent", spec["intent"], self.intent_names, (*at, "intent"))
            result.append(self.transition(spec, None, spec["intent"], at))
        return tuple(result)

    def messages(self) -> Messages:
        given = self.raw.get("messages", {})
        built = {
            key: self.response(given[key], ("messages", key)) if key in given
            else Response((Template(default),))
            for key, default in DEFAULT_MESSAGES.items()
        }
        return Messages(**built)

    def build(self) -> Flow:
        self.data, self.columns = load_tables(self.raw.get("data", {}), self.base, self.r)
        for table, rows in self.replaced_tables.items():
            if table in self.data:  # before anything reads them: enum values_from too
                self.data[table] = rows
                if rows:  # no rows: keep the real columns, so names still check out
                    self.columns[table] = columns_of(rows)
        self._ref("state", self.raw["start"], self.state_names, ("start",))
        slots = self.slots()
        intents = self.intents()
        states = {name: self.state(name, spec) for name, spec in self.raw["states"].items()}
        llm = self.raw.get("llm", {})
        return Flow(
            name=self.raw["flow"], path=str(self.path), start=self.raw["start"], states=states,
            intents=intents, slots=slots, global_transitions=self.global_transitions(),
            knowledge=self.knowledge(), data=self.data, messages=self.messages(),
            settings=self.settings,
            llm=LLMSettings(
                model=llm.get("model"),
                system=self._optional(self.template, llm, "system", ("llm",)),
                temperature=llm.get("temperature"), max_tokens=llm.get("max_tokens"),
                base_url=llm.get("base_url"),
                **{key: llm[key] for key in ("timeout", "retries", "history_tokens", "router",
                                              "min_confidence") if key in llm},
            ),
            description=self.raw.get("description", ""),
        )
