"""What the expression language's operators and functions do with values.

Every operation is total: values of the wrong kind give None or False, never an
exception, so a condition over messy data cannot break a turn.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Any

Scope = Mapping[str, object]

# A scope may carry a zero-argument callable under this key: today() and days_until()
# then use its date (the engine passes its own clock). Not an identifier, so an
# expression cannot name it.
TODAY_KEY = "$today"
_COLLECTION = (list, tuple, set, frozenset)


_NUM, _STR = 1, 2
_KINDS: dict[type, int] = {int: _NUM, float: _NUM, str: _STR, bool: 0, type(None): 0}


def _kind(value: object) -> int:
    """_NUM or _STR for values that order and add within their kind, else 0 (bool too)."""
    kind = _KINDS.get(type(value))
    if kind is None:  # other types, and subclasses such as IntEnum or StrEnum members
        kind = (0 if isinstance(value, bool) else _NUM if isinstance(value, int | float)
                else _STR if isinstance(value, str) else 0)
    return kind


def _eq(a: object, b: object) -> bool:
    """Equal values of one type, or of one kind: 1 == 1.0, but 1 != '1' and true != 1."""
    return (type(a) is type(b) or 0 != _kind(a) == _kind(b)) and (a == b) is True


def _typed(op: Callable[[Any, Any], object], kinds: tuple[int, ...], otherwise: object
           ) -> Callable[[object, object], object]:
    """`op` for two values of one kind among `kinds`; `otherwise` for mismatches and errors."""
    def apply(a: object, b: object) -> object:
        kind = _kind(a)
        if kind in kinds and kind == _kind(b):
            try:
                return op(a, b)
            except ArithmeticError:  # division by zero, overflow
                pass
        return otherwise
    return apply


def _in(a: object, b: object) -> bool:
    if isinstance(b, str):  # substring, case-sensitive like ==
        return isinstance(a, str) and a in b
    return isinstance(b, _COLLECTION) and any(_eq(a, item) for item in b)


OPERATORS: dict[str, Callable[[object, object], object]] = {
    "==": _eq, "!=": lambda a, b: not _eq(a, b),
    "in": _in, "not in": lambda a, b: not _in(a, b),
    **{op: _typed(fn, (_NUM, _STR), False) for op, fn in (
        ("<", operator.lt), ("<=", operator.le), (">", operator.gt), (">=", operator.ge))},
    "+": _typed(operator.add, (_NUM, _STR), None),
    **{op: _typed(fn, (_NUM,), None) for op, fn in (
        ("-", operator.sub), ("*", operator.mul), ("/", operator.truediv), ("%", operator.mod))},
}


def _extreme(pick: Callable[[Any], object], *args: object) -> object:
    # min(prices) takes the least of one list
    values = args[0] if len(args) == 1 and isinstance(args[0], list | tuple) else args
    kinds = {_kind(v) for v in values}
    return pick(values) if len(kinds) == 1 and 0 not in kinds else None


def _days_until(today: date, when: object) -> object:
    # A caller's scope may hold date objects; flows and sessions hold ISO strings.
    day = datetime.fromisoformat(when) if isinstance(when, str) else when
    day = day.date() if isinstance(day, datetime) else day
    return (day - today).days if isinstance(day, date) else None


def scope_today(scope: Scope) -> date:
    clock = scope.get(TODAY_KEY)
    return clock() if callable(clock) else date.today()


# name: (implementation, fewest arguments, most or None for any number). Every function
# gives None for input it cannot handle.
FUNCTIONS: dict[str, tuple[Callable[..., object], int, int | None]] = {
    "len": (lambda x: len(x) if isinstance(x, (str, Mapping, *_COLLECTION)) else None, 1, 1),
    # Unbound str methods raise TypeError, hence give None, for anything but strings.
    "lower": (str.lower, 1, 1),
    "upper": (str.upper, 1, 1),
    "contains": (lambda h, n: str.casefold(n) in str.casefold(h) if isinstance(h, str)
                 else _in(n, h) if isinstance(h, _COLLECTION) else None, 2, 2),
    "startswith": (str.startswith, 2, 2),
    "endswith": (str.endswith, 2, 2),
    "abs": (lambda x: abs(x) if _kind(x) == _NUM else None, 1, 1),
    "min": (partial(_extreme, min), 1, None),
    "max": (partial(_extreme, max), 1, None),
    # round(5, -10**9) would spend minutes computing 10**(10**9): ndigits stays small.
    "round": (lambda x, n=None: round(x, n) if _kind(x) == _NUM and (
        n is None or (type(n) is int and abs(n) <= 100)) else None, 1, 2),
    # int("3.5") is 3, like int(3.5); digit strings skip float() to keep big numbers exact.
    "int": (lambda x: (int(x) if x.strip().lstrip("+-").isdigit() else int(float(x)))
            if isinstance(x, str) else int(x) if isinstance(x, int | float) else None, 1, 1),
    "float": (lambda x: float(x) if isinstance(x, str | int | float) else None, 1, 1),
    # Only plain values: str() of other objects would show Python internals.
    "str": (lambda x: ("true" if x else "false") if isinstance(x, bool)
            else str(x) if _kind(x) else None, 1, 1),
    "today": (lambda today: today.isoformat(), 0, 0),
    "days_until": (_days_until, 1, 1),
}
# These get today's date as an extra first argument. Calls to the rest are computed
# once, at compile time, when every argument is a constant.
DATED = frozenset({"today", "days_until"})
# int('abc'), round(inf), float(10**400): caught once, around every call.
CALL_ERRORS = (TypeError, ValueError, ArithmeticError)


