"""Slot types: turn what the user typed into a typed slot value.

Every kind reads text in two modes. `parse` runs when the bot has just asked for
the slot, so the whole message is the answer and can be read leniently ("7" is a
perfectly good budget answer). `extract` runs when the slot is only mentioned in
passing inside a longer utterance, so only unambiguous mentions count: a seat
count or a model year must never turn into a budget.

Text arrives NFKC-normalised with whitespace collapsed but in the user's case, so
every pattern here is case-insensitive. Patterns are compiled once, at import or
at build time, because they run on every turn.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

SLOT_KINDS: tuple[str, ...] = ("text", "enum", "number", "money", "date", "email", "phone", "regex")

_I = re.IGNORECASE

_NUMBER_WORDS: dict[str, int] = {
    word: value
    for value, word in enumerate((
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen", "twenty",
    ))
}
_NUMBER_WORD_RE = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))

# Thousands separators only count in groups of three, so "1,2" reads as 1 rather than 12.
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)"


class SlotType(Protocol):
    kind: str

    def parse(self, text: str, today: datetime.date) -> str | int | float | None: ...

    def extract(self, text: str, today: datetime.date) -> str | int | float | None: ...


def _to_number(digits: str, scale: int = 1) -> int | float:
    # Decimal keeps "35.5k" exact; integral results stay int so "35.00" compares equal to 35.
    value = Decimal(digits.replace(",", "")) * scale
    return int(value) if value == value.to_integral_value() else float(value)


class TextSlot:
    kind = "text"

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        return text.strip() or None

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        # Free text has no boundaries inside a sentence, so it can only be asked for.
        return None


def _phrase_key(phrase: str) -> str:
    return " ".join(re.split(r"[\s-]+", phrase.strip().lower())).strip()


def _phrase_pattern(key: str) -> str:
    *head, last = key.split(" ")
    if len(last) > 1 and last.endswith("y") and last[-2] not in "aeiou":
        tail = re.escape(last[:-1]) + "(?:y|ies)"
    elif last[-1].isalpha():
        tail = re.escape(last) + "(?:e?s)?"
    else:
        tail = re.escape(last)  # "model 3" has no plural
    # Zero separators allowed too, so "landrover" and "crv" still find "land rover" and "CR-V".
    return r"[\s-]*".join([*map(re.escape, head), tail])


class EnumSlot:
    kind = "enum"

    def __init__(self, values: Sequence[str], synonyms: Mapping[str, str]) -> None:
        self.values = tuple(values)
        self._canonical: dict[str, str] = {}
        for value in self.values:
            # Values often come from a data column, where "BMW" and "bmw" may both
            # appear; the first spelling wins instead of failing the whole flow.
            self._canonical.setdefault(_phrase_key(value), value)
        if "" in self._canonical:
            raise ValueError("enum values must not be empty")
        for phrase, target in synonyms.items():
            if target not in self.values:
                raise ValueError(
                    f"synonym '{phrase}' points at '{target}', which is not one of the values"
                    f" ({', '.join(self.values)})"
                )
            key = _phrase_key(phrase)
            if not key:
                raise ValueError(f"synonym for '{target}' must not be empty")
            if self._canonical.setdefault(key, target) != target:
                raise ValueError(
                    f"synonym '{phrase}' -> '{target}' clashes with '{self._canonical[key]}'"
                )
        self._by_group: dict[str, str] = {}
        alternatives = []
        # Longest first: at one starting point the alternation takes the first branch
        # that fits, so "plug-in hybrid" must be tried before "plug-in" or "hybrid".
        for index, key in enumerate(sorted(self._canonical, key=len, reverse=True)):
            self._by_group[f"v{index}"] = self._canonical[key]
            alternatives.append(f"(?P<v{index}>{_phrase_pattern(key)})")
        self._pattern = re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", _I)

    def exact(self, text: str) -> str | None:
        """The value when the whole message is one of the values or synonyms."""
        return self._canonical.get(_phrase_key(text.strip(" .!?")))

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        exact = self.exact(text)
        return exact if exact is not None else self.extract(text, today)

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        match = self._pattern.search(text)
        return self._by_group[match.lastgroup] if match and match.lastgroup else None


_NUMBER_RE = re.compile(
    rf"(?<![\w.-])(?P<num>-?{_DIGITS})|(?<!\w)(?P<word>{_NUMBER_WORD_RE})(?!\w)", _I
)


class NumberSlot:
    kind = "number"

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        match = _NUMBER_RE.search(text)
        if match is None:
            return None
        if match["num"]:
            return _to_number(match["num"])
        return _NUMBER_WORDS[match["word"].lower()]

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        # A bare number in a sentence could be anything: seats, a year, a mileage.
        return None


_MONEY_CUES = (
    r"under|below|less\s+than|up\s*to|max(?:imum)?|at\s+most|budget(?:\s+(?:of|is))?|around"
    r"|about|within|(?:no|not)\s+more\s+than|for"
)
_MONEY_RE = re.compile(
    rf"(?:(?<!\w)(?P<cue>{_MONEY_CUES})[\s:.~]*)?"
    r"(?:(?P<sym>[$€£]|(?<!\w)(?:usd|eur|gbp))\s?|(?<![\w.,]))"
    rf"(?P<num>{_DIGITS})"
    r"(?:\s?(?P<mult>k|grand|thousand|m|mil|million)(?!\w))?"
    r"(?:\s?(?P<cur>[$€£]|(?:dollars?|usd|euros?|eur|pounds?|gbp|quid|bucks)(?!\w)))?",
    _I,
)
_MULTIPLIERS = {"k": 1_000, "grand": 1_000, "thousand": 1_000, "m": 1_000_000,
                "mil": 1_000_000, "million": 1_000_000}
# Car talk is full of cue-worthy numbers that are not prices: "under 50k miles".
_NOT_MONEY_UNITS = re.compile(
    r"[\s-]*(?:miles?|mi|kms?|kilomet(?:er|re)s?|mpg|hp|bhp|cc|kw|seats?|seaters?|doors?"
    r"|people|persons?|passengers?|kids|days?|weeks?|months?|years?|yrs?|owners?|kg|lbs?)(?!\w)",
    _I,
)
# With only a cue word to go on ("for 2", "around 2019") small numbers and years are
# far more often seat counts and model years than prices.
_MIN_CUED_AMOUNT = 100
_YEAR_RE = re.compile(r"(?:19|20)\d\d")


def _money_candidates(text: str, *, need_cue: bool) -> int | float | None:
    for match in _MONEY_RE.finditer(text):
        currency = match["sym"] or match["cur"]
        if not currency and _NOT_MONEY_UNITS.match(text, match.end()):
            continue
        mult = match["mult"]
        value = _to_number(match["num"], _MULTIPLIERS[mult.lower()] if mult else 1)
        weak = not match["cue"] or value < _MIN_CUED_AMOUNT or _YEAR_RE.fullmatch(match["num"])
        if need_cue and not (currency or mult) and weak:
            continue
        return value
    return None


class MoneySlot:
    kind = "money"

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        # Prefer a clearly marked amount ("for a 2019 car, around 20k"), else any number.
        cued = _money_candidates(text, need_cue=True)
        return cued if cued is not None else _money_candidates(text, need_cue=False)

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        return _money_candidates(text, need_cue=True)


_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = {name[:length]: number for number, name in enumerate(_MONTH_NAMES, start=1)
           for length in (3, len(name))} | {"sept": 9}
_WEEKDAYS = {name[:length]: number for number, name in enumerate(_WEEKDAY_NAMES)
             for length in (3, len(name))} | {"tues": 1, "thur": 3, "thurs": 3}
_RELATIVE_DAYS = {"today": 0, "tomorrow": 1, "tmrw": 1, "day after tomorrow": 2}


def _alternation(words: Mapping[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_MONTH = f"(?:{_alternation(_MONTHS)})"
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATE_RE = re.compile(
    r"(?<!\w)(?:"
    r"(?P<iso_y>\d{4})(?P<sep>[-/])(?P<iso_m>\d{1,2})(?P=sep)(?P<iso_d>\d{1,2})"
    r"|(?P<rel>day\s+after\s+tomorrow|today|tomorrow|tmrw)"
    rf"|in\s+(?P<in_n>\d+|an?|{_NUMBER_WORD_RE})\s+(?P<in_unit>days?|weeks?)"
    rf"|(?:(?P<wd_cue>next|this|coming|on)\s+)?(?P<wd>{_alternation(_WEEKDAYS)})"
    rf"|(?P<dm_d>\d{{1,2}}){_ORDINAL}(?:\s+of)?\s+(?P<dm_m>{_MONTH})\.?"
    r"(?:,?\s+(?P<dm_y>\d{4}))?"
    rf"|(?P<md_m>{_MONTH})\.?\s+(?:the\s+)?(?P<md_d>\d{{1,2}}){_ORDINAL}"
    r"(?:,?\s+(?P<md_y>\d{4}))?"
    r")(?!\w)",
    _I,
)


def _safe_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:  # 30 February and friends
        return None


def _next_occurrence(month: int, day: int, today: datetime.date) -> datetime.date | None:
    # Several years ahead only matters for 29 February, which skips non-leap years.
    for year in range(today.year, today.year + 5):
        found = _safe_date(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _resolve_date(
    match: re.Match[str], today: datetime.date, *, strict: bool
) -> datetime.date | None:
    if match["iso_y"]:
        return _safe_date(int(match["iso_y"]), int(match["iso_m"]), int(match["iso_d"]))
    if match["rel"]:
        offset = _RELATIVE_DAYS[" ".join(match["rel"].lower().split())]
        return today + datetime.timedelta(days=offset)
    if match["in_n"]:
        amount = match["in_n"].lower()
        count = int(amount) if amount.isdigit() else _NUMBER_WORDS.get(amount, 1)
        scale = 7 if match["in_unit"].lower().startswith("week") else 1
        return today + datetime.timedelta(days=count * scale)
    if match["wd"]:
        name = match["wd"].lower()
        # "sat", "sun", "mon" are ordinary words too; in passing they need "on"/"next".
        if strict and name not in _WEEKDAY_NAMES and not match["wd_cue"]:
            return None
        return today + datetime.timedelta(days=(_WEEKDAYS[name] - today.weekday() - 1) % 7 + 1)
    day, month, year = (match["dm_d"], match["dm_m"], match["dm_y"]) if match["dm_d"] else (
        match["md_d"], match["md_m"], match["md_y"])
    month_number = _MONTHS[month.lower()]
    if year:
        return _safe_date(int(year), month_number, int(day))
    return _next_occurrence(month_number, int(day), today)


class DateSlot:
    kind = "date"

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        return self._find(text, today, strict=False)

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        return self._find(text, today, strict=True)

    @staticmethod
    def _find(text: str, today: datetime.date, *, strict: bool) -> str | None:
        for match in _DATE_RE.finditer(text):
            found = _resolve_date(match, today, strict=strict)
            if found is not None:
                return found.isoformat()
        return None


_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![\w-])", _I
)


class EmailSlot:
    kind = "email"

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        return self.extract(text, today)

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        match = _EMAIL_RE.search(text)
        return match[0].lower() if match else None


# Separators between digit groups are mandatory (except around a parenthesised area
# code), which keeps the pattern linear and stops "2021 2022" style runs growing
# without bound. Currency marks before the number rule out prices like "$1500000".
_PHONE_RE = re.compile(
    r"(?<![\w+$€£.,])\+?(?:\d{1,4}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d+(?:[\s.-]\d+)*(?!\d)"
)
_ISO_DATE_SHAPE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}")
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15


class PhoneSlot:
    kind = "phone"

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        return self.extract(text, today)

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        for match in _PHONE_RE.finditer(text):
            candidate = match[0]
            digits = re.sub(r"\D", "", candidate)
            if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
                continue
            if _ISO_DATE_SHAPE.fullmatch(candidate):
                continue  # "2026-12-05" has eight digits but is a date
            return ("+" if candidate.startswith("+") else "") + digits
        return None


class RegexSlot:
    kind = "regex"

    def __init__(self, pattern: str) -> None:
        try:
            self._pattern = re.compile(pattern, _I)
        except re.error as exc:
            raise ValueError(
                f"invalid regex pattern: {exc.msg} (at character {(exc.pos or 0) + 1})"
            ) from exc
        self.pattern = pattern

    def parse(self, text: str, today: datetime.date) -> str | int | float | None:
        return self.extract(text, today)

    def extract(self, text: str, today: datetime.date) -> str | int | float | None:
        match = self._pattern.search(text)
        if match is None:
            return None
        value = match.group(1) if self._pattern.groups else match.group(0)
        # An optional group that did not take part, or an empty match, found nothing.
        return value or None


def build_slot_type(
    kind: str,
    *,
    values: Sequence[str] = (),
    synonyms: Mapping[str, str] | None = None,
    pattern: str | None = None,
) -> SlotType:
    """Build the parser for one slot; raise ValueError saying what is wrong with its spec.

    Options that do not apply to `kind` (values on a number slot, say) are ignored.
    """
    if kind == "enum":
        if not values:
            raise ValueError("an enum slot needs at least one value")
        return EnumSlot(values, synonyms or {})
    if kind == "regex":
        if not pattern:
            raise ValueError("a regex slot needs a 'pattern'")
        return RegexSlot(pattern)
    simple: dict[str, type[SlotType]] = {
        "text": TextSlot, "number": NumberSlot, "money": MoneySlot, "date": DateSlot,
        "email": EmailSlot, "phone": PhoneSlot,
    }
    if kind not in simple:
        raise ValueError(f"unknown slot type '{kind}' (expected one of: {', '.join(SLOT_KINDS)})")
    return simple[kind]()
