"""Turn jsonschema errors into the `{path, message}` items of a Feathers BadRequest (D4, §9.4).

jsonschema reports where a rule failed; a client wants to know which field is wrong. So a missing field and
an unknown field are reported at the field itself (not at the object that holds it), alternatives
(`anyOf`/`oneOf`) are reduced to the branch the client most likely meant, and every message is short enough
for a form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:  # jsonschema is imported when the first validator is built, not at start-up
    from jsonschema.exceptions import ValidationError

__all__ = ["Problem", "RuledProblem", "problems_from_errors", "ruled_problems_from_errors"]


class Problem(TypedDict):
    """One validation problem, exactly as it goes into a BadRequest's `errors` array
    (docs/contract.md#validation-errors)."""

    path: str
    message: str


class RuledProblem(TypedDict):
    """A problem with the schema rule it broke (`required`, `additionalProperties`, `type`, `enum`, ...), for
    reports that sort problems into kinds; the wire keeps the plain `Problem`."""

    path: str
    message: str
    rule: str


PathPart = str | int
_Found = tuple[tuple[PathPart, ...], str, str]  # (path parts, rule, message)

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_FORMAT_MESSAGES = {
    "date-time": "must be an ISO-8601 UTC date-time with milliseconds, e.g. 2024-01-15T10:00:00.000Z",
    "email": "must be an e-mail address",
    "ipv4": "must be an IPv4 address",
    "uuid": "must be a UUID",
}
# `{"not": {}}` refuses any value; its title says why (schemas/common.json#/$defs/serverManaged).
_REFUSAL_MESSAGES = {
    "read-only": "is read-only (set by the server)",
    "patch-only": "can only be set by a patch",
}
_REJECTING_RULES = frozenset({"const", "enum", "type"})


def problems_from_errors(errors: Iterable[ValidationError]) -> list[Problem]:
    """One problem per (path, rule), sorted by path so the same input always gives the same list."""
    return [{"path": item["path"], "message": item["message"]} for item in ruled_problems_from_errors(errors)]


def ruled_problems_from_errors(errors: Iterable[ValidationError]) -> list[RuledProblem]:
    """The problems of `problems_from_errors`, each with the rule it broke."""
    seen_rules: set[tuple[tuple[PathPart, ...], str]] = set()
    seen_messages: set[tuple[tuple[PathPart, ...], str]] = set()
    found: list[tuple[tuple[PathPart, ...], str, str]] = []
    for error in errors:
        for parts, rule, message in _expand(error):
            if (parts, rule) in seen_rules or (parts, message) in seen_messages:
                continue
            seen_rules.add((parts, rule))
            seen_messages.add((parts, message))
            found.append((parts, message, rule))
    found.sort(key=lambda item: (_sort_key(item[0]), item[1]))
    return [{"path": _dotted(parts), "message": message, "rule": rule} for parts, message, rule in found]


def _dotted(parts: Sequence[PathPart]) -> str:
    return ".".join(str(part) for part in parts)


def _sort_key(parts: Sequence[PathPart]) -> tuple[tuple[int, int, str], ...]:
    # Array indexes sort numerically, so `blacklist.2` comes before `blacklist.10`.
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in parts)


def _expand(error: ValidationError) -> Iterator[_Found]:
    """The problems one jsonschema error stands for (a `required` error may name several fields)."""
    parts = tuple(error.absolute_path)
    rule = error.validator
    instance = error.instance
    value: Any = error.validator_value
    if rule == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                yield (*parts, name), "required", "is a required property"
    elif rule == "dependentRequired" and isinstance(instance, dict):
        for trigger, needed in value.items():
            if trigger in instance:
                for name in needed:
                    if name not in instance:
                        yield (*parts, name), "required", f"is required when {trigger} is set"
    elif rule == "additionalProperties" and isinstance(instance, dict):
        for name in _unknown_fields(instance, error.schema):
            yield (*parts, name), "additionalProperties", "is not a known field"
    elif rule in ("anyOf", "oneOf") and error.context:
        yield from _from_alternatives(error, parts)
    else:
        yield parts, str(rule), _message(error)


def _unknown_fields(instance: dict[str, Any], schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return list(instance)
    known = schema.get("properties", {})
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties", {})]
    return [name for name in instance if name not in known and not any(pattern.search(name) for pattern in patterns)]


def _from_alternatives(error: ValidationError, parts: tuple[PathPart, ...]) -> Iterator[_Found]:
    """Report the branch the client meant, or one combined message when the value fits none of them.

    A branch is ruled out when the value's own type or constant does not fit it, or when a constant property
    (a discriminator such as `strategy`) has another value. If exactly one branch is left, its problems are
    the useful ones. If none is left, the reasons are combined ("must be "unlimited" or a number"). If several
    are left, the problems they all share are reported, or else those of the branch with the fewest.
    """
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        index = sub.relative_schema_path[0]
        if isinstance(index, int):
            branches.setdefault(index, []).append(sub)
    rejections: dict[int, ValidationError] = {}
    for index, subs in branches.items():
        for sub in subs:
            depth = len(sub.relative_path)
            if (depth == 0 and sub.validator in _REJECTING_RULES) or (
                depth == 1 and sub.validator in ("const", "enum")
            ):
                rejections[index] = sub
                break
    candidates = [index for index in sorted(branches) if index not in rejections]
    if len(candidates) == 1:
        for sub in branches[candidates[0]]:
            yield from _expand(sub)
        return
    if not candidates and rejections:
        where = {tuple(sub.relative_path) for sub in rejections.values()}
        if len(where) == 1:
            (relative,) = where
            options: list[str] = []
            for index in sorted(rejections):
                for option in _describe_allowed(rejections[index]):
                    if option not in options:
                        options.append(option)
            yield (*parts, *relative), str(error.validator), "must be " + _or_list(options)
            return
    if not branches:
        yield parts, str(error.validator), _message(error)
        return
    pool = candidates or sorted(branches)
    found = {index: [item for sub in branches[index] for item in _expand(sub)] for index in pool}
    shared = [item for item in found[pool[0]] if all(item in found[index] for index in pool[1:])]
    if shared:  # e.g. the discriminator itself is missing: that is the one thing every branch asks for
        yield from shared
        return
    best = min(pool, key=lambda index: (len(found[index]), index))
    yield from found[best]


def _describe_allowed(error: ValidationError) -> list[str]:
    """What a rejecting `const`, `enum` or `type` rule would have accepted, as words."""
    value: Any = error.validator_value
    if error.validator == "const":
        return [json.dumps(value)]
    if error.validator == "enum":
        return [json.dumps(item) for item in value]
    names = [value] if isinstance(value, str) else list(value)
    return [_TYPE_NAMES.get(name, name) for name in names]


def _or_list(options: Sequence[str]) -> str:
    if len(options) <= 2:
        return " or ".join(options)
    return "one of " + ", ".join(options)


def _message(error: ValidationError) -> str:
    """A short message for one failed rule; jsonschema's own text when no better one is known."""
    rule = error.validator
    value: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if rule is None:  # the `false` schema
        return "is not allowed"
    if rule == "type":
        return "must be " + " or ".join(_describe_allowed(error))
    if rule == "const":
        return f"must be {json.dumps(value)}"
    if rule == "enum":
        return "must be one of " + ", ".join(json.dumps(item) for item in value)
    if rule == "minimum":
        return f"must be >= {json.dumps(value)}"
    if rule == "maximum":
        return f"must be <= {json.dumps(value)}"
    if rule == "exclusiveMinimum":
        return f"must be > {json.dumps(value)}"
    if rule == "exclusiveMaximum":
        return f"must be < {json.dumps(value)}"
    if rule == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters long"
    if rule == "maxLength":
        return f"must be at most {value} characters long"
    if rule == "minItems":
        return "must not be empty" if value == 1 else f"must have at least {value} items"
    if rule == "maxItems":
        return f"must have at most {value} items"
    if rule == "uniqueItems":
        return "must not contain duplicates"
    if rule == "minProperties":
        return "must set at least one field" if value == 1 else f"must set at least {value} fields"
    if rule == "format":
        return _FORMAT_MESSAGES.get(str(value), f"must be a valid {value}")
    if rule == "pattern":
        known_format = schema.get("format")
        if isinstance(known_format, str) and known_format in _FORMAT_MESSAGES:
            return _FORMAT_MESSAGES[known_format]
        return f"must match the pattern {value}"
    if rule == "not" and value == {}:
        return _REFUSAL_MESSAGES.get(str(schema.get("title")), "is not allowed")
    if rule == "oneOf":
        return "must match exactly one of the allowed shapes"
    return str(error.message)
