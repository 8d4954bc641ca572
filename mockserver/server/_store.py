"""The records of one MockServer, by service path and id.

All state lives on instances (never in module globals), so several servers can run in one process and a reset is
just loading a dataset again.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Store"]


@dataclass(slots=True)
class Store:
    """Tables of records keyed by `_id`, plus the state that is not part of any record."""

    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # user _id -> plaintext (the mock's own users)
    api_keys: dict[str, str] = field(default_factory=dict)  # secret key -> key record _id
    subscriptions: dict[str, set[str]] = field(default_factory=dict)  # user _id -> model _ids
    templates_applied: set[str] = field(default_factory=set)  # strategy _ids whose template was copied once

    def load(
        self,
        records: Mapping[str, Sequence[Mapping[str, Any]]] | bytes,
        *,
        passwords: Mapping[str, str],
        api_keys: Mapping[str, str],
        subscriptions: Mapping[str, Iterable[str]],
    ) -> None:
        """Replace everything with a private deep copy of a dataset; `records` may be a `snapshot()` of it, which
        makes the per-test reset several times cheaper than copying the records again."""
        copied: dict[str, list[dict[str, Any]]] = pickle.loads(
            records if isinstance(records, bytes) else self.snapshot(records)
        )
        self.tables = {path: {rec["_id"]: rec for rec in recs} for path, recs in copied.items()}
        self.passwords = dict(passwords)
        self.api_keys = dict(api_keys)
        self.subscriptions = {user: set(models) for user, models in subscriptions.items()}
        self.templates_applied = {
            rec["_id"] for rec in self.tables.get("strategies", {}).values() if rec.get("templateId")
        }

    @staticmethod
    def snapshot(records: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
        """The records as JSON would carry them (so the store never holds a tuple or another non-JSON value),
        pickled: unpickling our own snapshot is the fastest exact deep copy Python has."""
        return pickle.dumps(json.loads(json.dumps(records)), protocol=pickle.HIGHEST_PROTOCOL)

    def table(self, path: str) -> dict[str, dict[str, Any]]:
        return self.tables.setdefault(path, {})

    def get(self, path: str, record_id: str) -> dict[str, Any] | None:
        return self.tables.get(path, {}).get(record_id)

    def put(self, path: str, record: dict[str, Any]) -> None:
        self.table(path)[record["_id"]] = record

    def delete(self, path: str, record_id: str) -> dict[str, Any] | None:
        return self.tables.get(path, {}).pop(record_id, None)

    def records(self, path: str) -> Iterator[dict[str, Any]]:
        return iter(self.tables.get(path, {}).values())

    def owned_by(self, path: str, user_id: str) -> Iterator[dict[str, Any]]:
        return (rec for rec in self.records(path) if rec.get("userId") == user_id)

    def key_secrets(self, key_id: str) -> list[str]:
        """The plaintext secrets of an API key record (the record itself never holds them)."""
        return [secret for secret, owner in self.api_keys.items() if owner == key_id]

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        folded = email.casefold()
        return next((u for u in self.records("users") if str(u.get("email", "")).casefold() == folded), None)
