"""The in-memory services: Feathers memory-adapter semantics plus the domain rules of cryptorobot-api.md §10.

Transports resolve paths and methods; a service only ever sees a resolved, authorised-to-try call. Every
successful create/patch/remove publishes its event before returning, which is the order Feathers clients
observe (event frame first, then the ack; feathers-protocol.md §2.3).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from mockserver.contract import Scope, service_spec
from mockserver.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    NotAuthenticated,
    NotFound,
    Unprocessable,
)
from mockserver.server._channels import Audience
from mockserver.server._core import Caller, Core, ServiceMethods
from mockserver.server.query import (
    FieldType,
    FindParams,
    check_query_for_get,
    coerce_query,
    field_types_from_schema,
    find,
    parse_find_params,
    select,
)
from mockserver.synth import exchange_profile, pod_result, trader_create_defaults

__all__ = ["Service", "build_services"]

S = TypeVar("S", bound="Service")

IGNORED_FIELDS = ("_id", "userId", "createdAt", "updatedAt")  # server-managed; client values are ignored (§9.4)


class Service:
    """One Feathers service at `path`; the base offers find/get over the records the caller may see."""

    path: ClassVar[str]

    def __init__(self, core: Core) -> None:
        self.core = core
        self.spec = service_spec(self.path)

    @functools.cached_property
    def field_types(self) -> dict[str, FieldType]:
        """The schema's field types, worked out on the service's first query or write (not at server start)."""
        contract = self.core.contract
        if "object" not in contract.kinds(self.path):
            return {}
        return field_types_from_schema(contract.resolved_schema(self.path, "object"))

    def typed(self, query: Mapping[str, Any]) -> Any:
        """Query values coerced by the schema: REST sends only strings, and dates compare as instants (§4)."""
        return coerce_query(query, self.field_types)

    # -- reading -------------------------------------------------------------------------------------------
    def visible(self, caller: Caller) -> Iterable[dict[str, Any]]:
        """The records `find` may return to this caller (D8: the owner filter sits under every query)."""
        store = self.core.store
        if self.spec.scope is Scope.OWNED:
            return store.owned_by(self.path, caller.user_id or "")
        if self.spec.scope is Scope.SELF:
            own = store.get(self.path, caller.user_id or "")
            return [] if own is None else [own]
        return store.records(self.path)

    def load(self, caller: Caller, record_id: Any) -> dict[str, Any]:
        """The stored record for an id, or NotFound / Forbidden exactly as the spec words them."""
        record = self.core.store.get(self.path, str(record_id))
        if record is None:
            raise NotFound(f"No record found for id '{_id_text(record_id)}'")
        if not self.may_access(caller, record):
            raise Forbidden("You do not own this resource")
        return record

    def may_access(self, caller: Caller, record: Mapping[str, Any]) -> bool:
        if caller.provider == "server":
            return True
        if self.spec.scope is Scope.OWNED:
            return record.get("userId") == caller.user_id
        if self.spec.scope is Scope.SELF:
            return record.get("_id") == caller.user_id
        return True

    def view(self, caller: Caller, record: dict[str, Any]) -> dict[str, Any]:
        """The external view of a stored record for this caller (a copy, so callers cannot mutate the store)."""
        return dict(record)

    def load_matching(self, caller: Caller, record_id: Any, query: Mapping[str, Any]) -> dict[str, Any]:
        """The record for an id that also matches the query; NotFound otherwise, as the memory adapter says."""
        return self._matching(caller, record_id, query)[0]

    def _matching(self, caller: Caller, record_id: Any, query: Mapping[str, Any]) -> tuple[dict[str, Any], FindParams]:
        params = check_query_for_get(self.typed(query))
        record = self.load(caller, record_id)
        if not params.matcher(self.view(caller, record)):
            raise NotFound(f"No record found for id '{_id_text(record_id)}'")
        return record, params

    async def find(self, caller: Caller, query: Mapping[str, Any]) -> dict[str, Any]:
        params = parse_find_params(self.typed(query))
        return find((self.view(caller, r) for r in self.visible(caller)), params)

    async def get(self, caller: Caller, record_id: Any, query: Mapping[str, Any]) -> dict[str, Any]:
        record, params = self._matching(caller, record_id, query)
        return select(self.view(caller, record), params.select)

    # -- writing (only services whose catalog entry lists the method are ever asked) -------------------------
    def check(self, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a body against the contract (D4) and drop the fields the server manages itself."""
        self.core.contract.check(self.path, kind, data)
        return {k: v for k, v in data.items() if k not in IGNORED_FIELDS}

    def stamp(self, caller: Caller, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A new record: _id (and userId) first, then the fields, then the timestamps D15 asks for."""
        record: dict[str, Any] = {"_id": record_id}
        if self.spec.scope is Scope.OWNED:
            record["userId"] = caller.user_id
        record.update(fields)
        now = self.core.clock.iso()
        record["createdAt"] = now
        if "updatedAt" in self.field_types:  # patchable records carry both timestamps, the others createdAt only
            record["updatedAt"] = now
        return record

    async def create(self, caller: Caller, data: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
        fields = self.check("create", data)
        record_id = self.core.new_id()
        record = self.stamp(caller, record_id, await self.build(caller, record_id, fields))
        self.core.store.put(self.path, record)
        result = self.created_result(caller, record)
        self.core.publish(self.path, "created", result)
        return result

    async def build(self, caller: Caller, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Defaults and derived fields of a new record (domain services override)."""
        return fields

    def created_result(self, caller: Caller, record: dict[str, Any]) -> dict[str, Any]:
        """What create answers and its `created` event carries (keys add their secret once)."""
        return self.view(caller, record)

    async def patch(
        self, caller: Caller, record_id: Any, data: Mapping[str, Any], query: Mapping[str, Any]
    ) -> dict[str, Any]:
        record = self.load_matching(caller, record_id, query)
        changes = self.check("patch", data)
        updated = await self.apply(caller, record, changes)
        if updated is None:  # nothing changed (an idempotent run-state patch, D15): no event
            return self.view(caller, record)
        return self.save_patch(caller, updated)

    def save_patch(
        self, caller: Caller, updated: dict[str, Any], *, audience: Audience | None = None
    ) -> dict[str, Any]:
        if "updatedAt" in updated:
            updated["updatedAt"] = self.core.clock.iso()
        self.core.store.put(self.path, updated)
        result = self.view(caller, updated)
        self.core.publish(self.path, "patched", result, audience=audience)
        return result

    async def apply(self, caller: Caller, record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
        """The patched record (a new dict), or None when the patch changes nothing. Top-level merge, as memory."""
        return {**record, **changes}

    async def remove(self, caller: Caller, record_id: Any, query: Mapping[str, Any]) -> dict[str, Any]:
        record = self.load_matching(caller, record_id, query)
        self.before_remove(caller, record)
        self.core.store.delete(self.path, str(record["_id"]))
        result = self.view(caller, record)
        self.core.publish(
            self.path, "removed", self.removed_payload(result), audience=self.core.audience_of(self.path, record)
        )
        return result

    def before_remove(self, caller: Caller, record: dict[str, Any]) -> None:
        """Refuse a removal the domain forbids (domain services override)."""

    def removed_payload(self, result: dict[str, Any]) -> dict[str, Any]:
        return result

    # -- server-made records (simulated activity, scenarios) -------------------------------------------------
    def insert(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store a record the server made itself and publish `created`, as a real backend job would."""
        self.core.store.put(self.path, record)
        self.core.publish(self.path, "created", dict(record))
        return dict(record)


def _id_text(record_id: Any) -> str:
    return "null" if record_id is None else str(record_id)


def _reference_errors(
    core: Core, caller: Caller, fields: Mapping[str, Any], refs: Mapping[str, str]
) -> list[dict[str, str]]:
    """Problems with ids that must name the caller's own records (D15)."""
    problems = []
    for field_name, path in refs.items():
        if field_name not in fields:
            continue
        target = core.store.get(path, str(fields[field_name]))
        if target is None or target.get("userId") != caller.user_id:
            problems.append({"path": field_name, "message": f"no {path.rstrip('s')} '{fields[field_name]}' of yours"})
    return problems


class Users(Service):
    path = "users"

    def ensure_email_free(self, email: str, *, owner: str | None = None) -> None:
        """E-mails are unique (they are the login); `owner` may keep its own."""
        other = self.core.store.user_by_email(email)
        if other is not None and other["_id"] != owner:
            raise Conflict("A user with this email already exists", errors=[{"path": "email", "message": "is taken"}])

    async def build(self, caller: Caller, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.ensure_email_free(str(fields["email"]))
        self.core.store.passwords[record_id] = str(fields.pop("password"))  # kept apart: never in the record
        return {"email": fields.pop("email"), "name": "", "plan": "free", "verified": False, **fields}

    async def apply(self, caller: Caller, record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
        if "email" in changes:
            self.ensure_email_free(str(changes["email"]), owner=record["_id"])
        if "password" in changes:  # only once nothing can fail any more: a refused patch changes nothing
            self.core.store.passwords[record["_id"]] = str(changes.pop("password"))
        return {**record, **changes}

    def before_remove(self, caller: Caller, record: dict[str, Any]) -> None:
        self.core.store.passwords.pop(record["_id"], None)


class Keys(Service):
    path = "keys"

    def visible(self, caller: Caller) -> Iterable[dict[str, Any]]:
        self.refuse_api_key(caller)
        return super().visible(caller)

    def load(self, caller: Caller, record_id: Any) -> dict[str, Any]:
        self.refuse_api_key(caller)
        return super().load(caller, record_id)

    @staticmethod
    def refuse_api_key(caller: Caller) -> None:
        if caller.api_key is not None:
            raise Forbidden("API keys cannot manage API keys; use a login token")

    async def create(self, caller: Caller, data: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
        self.refuse_api_key(caller)  # authorization before validation, as Feathers' hooks order them
        return await super().create(caller, data, query)

    async def build(self, caller: Caller, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.core.store.api_keys["cr_live_" + self.core.hex(16)] = record_id
        return {"name": fields["name"], "scopes": list(fields["scopes"]), "lastUsed": None}

    def created_result(self, caller: Caller, record: dict[str, Any]) -> dict[str, Any]:
        """`key` is shown once: in the create result and in its `keys created` event (§10.4)."""
        (secret,) = self.core.store.key_secrets(record["_id"])
        result = {"_id": record["_id"], "userId": record["userId"], "name": record["name"], "key": secret}
        result.update({k: v for k, v in record.items() if k not in result})
        return result

    def before_remove(self, caller: Caller, record: dict[str, Any]) -> None:
        for secret in self.core.store.key_secrets(record["_id"]):
            del self.core.store.api_keys[secret]


class Strategies(Service):
    path = "strategies"

    async def build(self, caller: Caller, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        if "templateId" in fields or "indicators" in fields:
            raise BadRequest(
                "Validation failed",
                errors=[{"path": "templateId", "message": "is set by a patch after creation"}],
            )
        return {**fields, "configured": False}

    async def apply(self, caller: Caller, record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
        updated = dict(record)
        template_id = changes.get("templateId")
        if template_id is not None:
            template = self.core.store.get("strategies/templates", str(template_id))
            if template is None:
                raise BadRequest(
                    "Validation failed", errors=[{"path": "templateId", "message": f"unknown template '{template_id}'"}]
                )
            applied = self.core.store.templates_applied
            if record["_id"] not in applied:  # propagation happens on the first templated patch only (§10.5)
                updated.update(template.get("values", {}))
                applied.add(record["_id"])
            if "indicators" in changes:
                updated["configured"] = True
        updated.update(changes)
        return updated

    def removed_payload(self, result: dict[str, Any]) -> dict[str, Any]:
        return result if self.core.options.full_removed_strategy else {"_id": result["_id"]}  # D2


class Exchanges(Service):
    path = "exchanges"

    async def build(self, caller: Caller, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "connected": False,
            "avatar": "",
            "whitelist": [],
            "blacklist": [],
            "ccxt_config": {},
            "ccxt_async_config": {},
            "active": True,
        }
        credentials: dict[str, Any] = {k: fields.pop(k) for k in ("apiKey", "secret") if k in fields}
        record.update(fields)
        if "which" in fields:
            record.update(exchange_profile(str(fields["which"])))
        if credentials:
            self.connect(record, credentials)
        return record

    async def apply(self, caller: Caller, record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
        credentials: dict[str, Any] = {k: changes.pop(k) for k in ("apiKey", "secret") if k in changes}
        updated = {**record, **changes}
        if "which" in changes and changes["which"] != record.get("which"):
            updated.update(exchange_profile(str(changes["which"])))  # step 2: market data for the exchange
            updated["connected"] = False
        if credentials:
            self.connect(updated, credentials)  # step 3: credentials are tested, never stored
        return updated

    def connect(self, record: dict[str, Any], credentials: Mapping[str, Any]) -> None:
        if not record.get("which"):
            raise Unprocessable(
                "Choose an exchange before sending credentials",
                errors=[{"path": "which", "message": "is required before apiKey and secret"}],
            )
        missing = [name for name in ("apiKey", "secret") if not credentials.get(name)]
        if missing:
            raise Unprocessable(
                "Missing exchange credentials",
                errors=[{"path": name, "message": "is required to connect"} for name in missing],
            )
        if self.core.options.exchange_connect_fails:
            raise BadGateway(f"Could not reach {record['which']}: connectivity test failed")
        record["connected"] = True


_TRADER_REFS = {"exchangeId": "exchanges", "strategyId": "strategies"}
_TRADER_NESTED = ("unfilledtimeout", "stressShield", "webhook", "api_server", "plugins")


def _merge_nested(record: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level merge, except that the trader's nested settings merge key by key (a body may send part of them)."""
    merged = {**record, **changes}
    for name in _TRADER_NESTED:
        if isinstance(record.get(name), dict) and isinstance(changes.get(name), dict):
            merged[name] = {**record[name], **changes[name]}
    return merged


class Traders(Service):
    path = "traders"

    async def build(self, caller: Caller, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        problems = _reference_errors(self.core, caller, fields, _TRADER_REFS)
        if problems:
            raise Unprocessable("Trader references records that are not yours", errors=problems)
        count = sum(1 for _ in self.core.store.owned_by(self.path, caller.user_id or ""))
        defaults: dict[str, Any] = {
            "name": f"Trader {count + 1}",
            **trader_create_defaults(),
            "webhook": {"enabled": True, "format": "json", "url": f"https://api.cryptorobot.ai/webhooks/{record_id}"},
            "api_server": {
                "enabled": True,
                "listen_ip_address": "0.0.0.0",
                "listen_port": 8080,
                "verbosity": "error",
                "jwt_secret_key": self.core.hex(32),
                "username": f"freqtrader-{self.core.hex(4)}",
                "password": self.core.hex(12),
            },
        }
        # `running` on create is refused by the schema ("can only be set by a patch").
        return {**_merge_nested(defaults, fields), "running": False, "status": "stopped"}

    async def apply(self, caller: Caller, record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
        problems = _reference_errors(self.core, caller, changes, _TRADER_REFS)
        if problems:
            raise Unprocessable("Trader references records that are not yours", errors=problems)
        updated = _merge_nested(record, changes)
        if "running" not in changes:
            return updated
        wanted = bool(changes["running"])
        status = record["status"]
        if (wanted and status in ("starting", "running")) or (not wanted and status in ("stopping", "stopped")):
            del changes["running"]  # idempotent (D15): the run state stays as it is
            return _merge_nested(record, changes) if changes else None
        if wanted and status == "stopping":
            raise Conflict("Trader is stopping; start it again once it has stopped")
        if wanted:
            missing = [
                {"path": name, "message": "is required before the trader can run"}
                for name in _TRADER_REFS
                if not updated.get(name)
            ]
            if missing:
                raise Unprocessable("Trader needs exchangeId and strategyId before it can run", errors=missing)
            updated["status"] = "starting"
            self.core.later(self.core.options.start_delay, lambda: self.settle(updated["_id"], "starting"))
        else:
            updated["status"] = "stopping"
            self.core.later(self.core.options.start_delay, lambda: self.settle(updated["_id"], "stopping"))
        updated["running"] = wanted
        return updated

    async def settle(self, trader_id: str, transitional: str) -> None:
        """Finish a run-state change: `starting → running` or `stopping → stopped`, then the pod event (D5)."""
        record = self.core.store.get(self.path, trader_id)
        if record is None or record["status"] != transitional:
            return  # removed or changed again meanwhile
        final, pod_event = ("running", "started") if transitional == "starting" else ("stopped", "stopped")
        server = Caller(provider="server")
        self.save_patch(server, {**record, "status": final})
        pod_events_of(self.core).record_event(record, pod_event, f"{record['name']} {pod_event}")

    def before_remove(self, caller: Caller, record: dict[str, Any]) -> None:
        if record["status"] not in ("stopped", "error"):
            raise Conflict("Stop the trader before removing it")


class PodEvents(Service):
    path = "traders/pods/events"

    def record_event(
        self, trader: Mapping[str, Any], event_type: str, message: str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "_id": self.core.new_id(),
            "userId": trader["userId"],
            "traderId": trader["_id"],
            "podId": f"pod-{trader['_id']}",
            "type": event_type,
            "message": message,
        }
        if data is not None:
            record["data"] = data
        record["createdAt"] = self.core.clock.iso()
        return self.insert(record)


def service_of(core: Core, kind: type[S]) -> S:
    """A registered service as its own class, for domain rules that need more than the transports' methods."""
    service = core.services[kind.path]
    assert isinstance(service, kind)
    return service


def pod_events_of(core: Core) -> PodEvents:
    """The pod-events service, typed: the lifecycle and the live streams both record pod events through it."""
    return service_of(core, PodEvents)


class Pods(Service):
    """Pod commands (D12): a call answered by its ack, never a stored record, never an event (D13)."""

    path = "traders/pods"

    async def create(self, caller: Caller, data: Mapping[str, Any], query: Mapping[str, Any]) -> Any:
        self.core.contract.check(self.path, "create", data)
        trader = service_of(self.core, Traders).load(caller, data["traderId"])
        if trader["status"] != "running":
            raise Conflict("Trader is not running")
        store = self.core.store
        exchange = store.get("exchanges", str(trader.get("exchangeId", "")))
        which = None if exchange is None else exchange.get("which")
        prices = {
            str(t["symbol"]): float(t["last"])
            for t in store.records("exchanges/ticker")
            if t.get("which") == which and isinstance(t.get("last"), int | float)
        }
        return pod_result(
            str(data["command"]),
            trader=trader,
            trades=[t for t in store.records("trades") if t.get("traderId") == trader["_id"]],
            prices=prices,
            exchange=exchange,
            strategy=store.get("strategies", str(trader.get("strategyId", ""))),
        )


class Models(Service):
    path = "models"

    def view(self, caller: Caller, record: dict[str, Any]) -> dict[str, Any]:
        subscribed = record["_id"] in self.core.store.subscriptions.get(caller.user_id or "", set())
        return {**record, "subscribed": subscribed}

    async def patch(
        self, caller: Caller, record_id: Any, data: Mapping[str, Any], query: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Subscribe or unsubscribe the caller: the shared model record itself does not change."""
        record = self.load_matching(caller, record_id, query)
        changes = self.check("patch", data)
        mine = self.core.store.subscriptions.setdefault(caller.user_id or "", set())
        if changes.get("subscribed"):
            mine.add(record["_id"])
        elif "subscribed" in changes:
            mine.discard(record["_id"])
        result = self.view(caller, record)
        # `subscribed` is per caller, so the event goes to the caller's own connections only (§10.13).
        self.core.publish(self.path, "patched", result, audience=Audience.owner(caller.user_id or ""))
        return result


class Authentication(Service):
    """Login, refresh and logout (§5); never publishes events (D13)."""

    path = "authentication"

    async def create(self, caller: Caller, data: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
        strategy = data.get("strategy")
        if strategy == "local":
            user = self.local_login(data)
        elif strategy == "jwt":
            _, user = self.core.authenticate_token(data.get("accessToken"))
        else:
            raise NotAuthenticated("Invalid authentication information (no `strategy` set)")
        token, payload = self.core.issue_token(str(user["_id"]))
        return {
            "accessToken": token,
            "authentication": {"strategy": strategy, "accessToken": token, "payload": payload},
            "user": dict(user),
        }

    def local_login(self, data: Mapping[str, Any]) -> dict[str, Any]:
        email, password = data.get("email"), data.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise NotAuthenticated("Invalid login")
        user = self.core.store.user_by_email(email)
        if user is None or self.core.store.passwords.get(user["_id"]) != password:
            raise NotAuthenticated("Invalid login")
        return user

    async def remove(self, caller: Caller, record_id: Any, query: Mapping[str, Any]) -> dict[str, Any]:
        if caller.token is None:
            raise NotAuthenticated("Invalid authentication information (no `strategy` set)")
        if record_id is not None and record_id != caller.token:
            raise NotAuthenticated("Invalid access token")
        claims, user = self.core.authenticate_token(caller.token)
        if self.core.options.deny_logged_out_tokens:
            self.core.denied_tokens.add(caller.token)
        return {
            "accessToken": caller.token,
            "authentication": {"strategy": "jwt", "accessToken": caller.token, "payload": claims},
            "user": dict(user),
        }


def _plain(service_path: str) -> type[Service]:
    return type(f"Service_{service_path.replace('/', '_')}", (Service,), {"path": service_path})


def build_services(core: Core) -> None:
    """One instance of every service in the catalog, keyed by path."""
    classes: list[type[Service]] = [
        Authentication,
        Users,
        Keys,
        Strategies,
        Exchanges,
        Traders,
        Pods,
        PodEvents,
        Models,
        _plain("strategies/templates"),
        _plain("exchanges/ticker"),
        _plain("trades"),
        _plain("models/signals"),
        _plain("messages"),
        _plain("events"),
    ]
    services: dict[str, ServiceMethods] = {cls.path: cls(core) for cls in classes}
    core.services.update(services)
