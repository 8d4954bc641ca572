"""Feathers error objects: the wire form the Feathers client rebuilds its error classes from."""

from __future__ import annotations

import pytest

from mockserver.errors import ERROR_CLASSES, BadRequest, NotFound, error_from_code


def test_to_json_keeps_feathers_key_order_and_leaves_out_empty_members() -> None:
    assert list(NotFound("x").to_json()) == ["name", "message", "code", "className"]
    body = BadRequest("Validation failed", data={"a": 1}, errors=[{"path": "p", "message": "m"}]).to_json()
    assert list(body) == ["name", "message", "code", "className", "data", "errors"]


@pytest.mark.parametrize("code", sorted(ERROR_CLASSES))
def test_every_class_is_named_and_kebab_cased_as_feathers_spells_it(code: int) -> None:
    body = error_from_code(code, "m").to_json()
    assert body["code"] == code
    kebab = "".join("-" + c.lower() if c.isupper() else c for c in body["name"]).lstrip("-")
    assert body["className"] == kebab


def test_the_seventeen_feathers_classes_are_all_there() -> None:
    assert sorted(ERROR_CLASSES) == [
        400,
        401,
        402,
        403,
        404,
        405,
        406,
        408,
        409,
        410,
        411,
        422,
        429,
        500,
        501,
        502,
        503,
    ]


def test_an_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no Feathers error class for code 418"):
        error_from_code(418)
