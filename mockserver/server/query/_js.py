"""JavaScript semantics, reproduced exactly for the ports of Feathers' query packages.

The query engine ports qs (`_qs`), sift and @feathersjs/adapter-commons (`_query`); those are JavaScript, and
what they answer depends on JavaScript's own rules: `Object.keys` order (array-index keys first), `String()`,
`parseInt`, truthiness, `typeof`, `ToNumber`, the coercing `<`, UTF-16 code-unit string order, `item[key]` on
strings and arrays. Client authors test against this mock and then run the same code against Feathers, so these
helpers reproduce that behaviour exactly rather than the nearest Python idiom. `MISSING` is JavaScript's
`undefined`, as distinct from `null` (None).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "MISSING",
    "Sentinel",
    "canonical_index",
    "is_array_index",
    "js_get",
    "js_is_nan_key",
    "js_keys",
    "js_number_string",
    "js_ordered",
    "js_parse_int",
    "js_relational",
    "js_string",
    "js_to_number",
    "js_truthy",
    "js_typeof",
    "json_copy",
    "utf16",
]


class Sentinel:
    """A named stand-in for a JavaScript value Python has no word for."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


MISSING: Final = Sentinel("<undefined>")  # a property the record does not have (JavaScript's undefined)

_MAX_SAFE_INTEGER: Final = 2**53
_INT_PREFIX: Final = re.compile(r"\s*([+-]?\d+)")
_JS_NUMERIC: Final = re.compile(
    r"\s*(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Infinity)"
    r"|0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+)?\s*"
)
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


def canonical_index(text: str) -> int | None:
    """`String(parseInt(s)) === s && n >= 0`: the decimal spelling JavaScript would print back."""
    if not text or not text.isascii() or not text.isdigit() or (text[0] == "0" and len(text) > 1):
        return None
    number = int(text)
    return number if number <= _MAX_SAFE_INTEGER else None


def is_array_index(key: str) -> bool:
    index = canonical_index(key) if key[:1].isdigit() else None
    return index is not None and index < 2**32 - 1


def js_keys(obj: Mapping[str, Any]) -> list[str]:
    """`Object.keys` order: array-index keys ascending first, then the rest in insertion order."""
    keys = list(obj)
    indexes = [key for key in keys if is_array_index(key)]
    if not indexes:
        return keys
    return sorted(indexes, key=int) + [key for key in keys if not is_array_index(key)]


def js_is_nan_key(key: str) -> bool:
    """`isNaN(Number(key))`, which decides whether sift walks into an array or indexes it."""
    return _JS_NUMERIC.fullmatch(key) is None


def js_number_string(number: float) -> str:
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    text = repr(number)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = int(exponent)
    if -7 < power < 21:
        return format(number, "f").rstrip("0").rstrip(".")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def js_string(value: Any, *, in_array: bool = False) -> str:
    """`String(value)`, as the template literal in `$select` and `parseInt` apply it."""
    if value is None or value is MISSING:
        return "" if in_array else ("null" if value is None else "undefined")
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value) if abs(value) < 10**21 else js_number_string(float(value))
    if type(value) is float:
        return js_number_string(value)
    if type(value) is str:
        return value
    if type(value) is list:
        return ",".join(js_string(item, in_array=True) for item in value)
    return "[object Object]"


def js_parse_int(value: Any) -> int | None:
    """`parseInt(value, 10)`, with None for NaN."""
    if type(value) is float and math.isfinite(value) and (value == 0 or 1e-6 <= abs(value) < 1e21):
        return int(value)
    match = _INT_PREFIX.match(js_string(value))
    return int(match.group(1)) if match else None


def js_truthy(value: Any) -> bool:
    if value is None or value is MISSING or value is False or value == "":
        return False
    if type(value) in (int, float):
        return bool(value == value and value != 0)
    return True


def js_typeof(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    if kind is str:
        return "string"
    return "undefined" if value is MISSING else "object"


def utf16(text: str) -> str:
    """A string whose code-point order is the UTF-16 code-unit order JavaScript compares and sorts by."""
    if text.isascii():
        return text

    def pair(match: re.Match[str]) -> str:
        code = ord(match.group()) - 0x10000
        return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))

    return _ASTRAL.sub(pair, text)


def json_copy(value: Any) -> Any:
    """`JSON.parse(JSON.stringify(value))` for JSON data: callers never get the stored object."""
    if type(value) is dict:
        return {key: json_copy(item) for key, item in value.items()}
    if type(value) is list:
        return [json_copy(item) for item in value]
    return value


def js_ordered(value: Any) -> Any:
    """A copy in the key order `JSON.stringify` would print (error data crosses the wire)."""
    if type(value) is dict:
        return {key: js_ordered(value[key]) for key in js_keys(value)}
    if type(value) is list:
        return [js_ordered(item) for item in value]
    return value


def js_get(item: Any, key: str) -> Any:
    """`item[key]` for JSON values, with MISSING for undefined."""
    kind = type(item)
    if kind is dict:
        return item.get(key, MISSING)
    if kind is list or kind is str:
        units = utf16(item) if kind is str else item  # a JavaScript string is indexed by UTF-16 code unit
        if key == "length":
            return len(units)
        index = canonical_index(key)
        return units[index] if index is not None and index < len(units) else MISSING
    return MISSING


def js_to_number(value: Any) -> float:
    """`ToNumber` of a primitive; NaN for text that is not a JavaScript numeric literal."""
    if value is None:
        return 0.0
    if type(value) is not str:
        return float(value)
    text = value.strip()
    if _JS_NUMERIC.fullmatch(text) is None:
        return math.nan
    if not text:
        return 0.0
    if text[:2].lower() in ("0x", "0b", "0o"):
        return float(int(text[2:], {"x": 16, "b": 2, "o": 8}[text[1].lower()]))
    return float(text.replace("Infinity", "inf"))


def js_relational(left: Any, right: Any, compare: Callable[[Any, Any], bool]) -> bool:
    """`left < right` and friends on JSON values: ToPrimitive, then strings by code unit, else ToNumber."""
    left = js_string(left) if type(left) in (list, dict) else left
    right = js_string(right) if type(right) in (list, dict) else right
    if type(left) is str and type(right) is str:
        return compare(utf16(left), utf16(right))
    a, b = js_to_number(left), js_to_number(right)
    return not (math.isnan(a) or math.isnan(b)) and compare(a, b)
