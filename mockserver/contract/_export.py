"""The contract as documents other tools read: AsyncAPI 3.0 for the Socket.IO side, OpenAPI 3.1 for REST.

Both are built from the same catalog and schemas the mock and `verify` use, so they cannot say something else.
Every schema is inlined (`Contract.resolved_schema`): the documents stand alone, with no `$ref` into
`schemas.cryptorobot.ai`, which is an identifier and not a server.
"""

from __future__ import annotations

import re
from typing import Any

from mockserver.contract._catalog import SERVICES, Scope, ServiceSpec
from mockserver.contract._contract import ERROR_SERVICE, Contract

__all__ = ["asyncapi_document", "openapi_document"]

_TITLE = "Cryptorobot.ai API"
_DESCRIPTION = (
    "The Cryptorobot.ai realtime trading API (a FeathersJS v5 application), as the cryptorobot-mock contract "
    "describes it."
)
_SCHEMA_FORMAT = "application/schema+json;version=2020-12"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_CALL_ARGUMENTS = {  # Feathers' socket argument positions (feathers-protocol.md §2.1) after the service path
    "find": ("query",),
    "get": ("id", "query"),
    "create": ("data", "query"),
    "patch": ("id", "data", "query"),
    "remove": ("id", "query"),
}
_ID_SCHEMA: dict[str, Any] = {"type": ["string", "number"], "description": "The record's _id."}
_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Feathers query ($limit, $skip, $sort, $select, field conditions); {} for none.",
}


def _version() -> str:
    try:
        from importlib import metadata  # 15 ms to import: only when a document is exported

        return metadata.version("cryptorobot-mock")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        return "0.0.0"


def _key(*parts: str) -> str:
    """A component or map key the specifications accept (`[A-Za-z0-9._-]`): `strategies/templates` becomes
    `strategies.templates`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", ".".join(part.replace("/", ".") for part in parts))


def _schema(contract: Contract, service: str, kind: str) -> dict[str, Any]:
    schema = contract.resolved_schema(service, kind)
    schema.pop("$schema", None)
    return schema


def _result_kind(spec: ServiceSpec, method: str) -> str | None:
    """The kind a method answers with; None when the answer has no schema of its own (pod command results vary)."""
    if spec.path == "authentication":
        return "result"
    if spec.path == "traders/pods":
        return None
    if method == "find":
        return "page"
    if method == "create" and spec.path == "keys":
        return "created"
    return "object"


def _pod_result(contract: Contract) -> dict[str, Any]:
    results = [
        _schema(contract, "traders/pods", kind) for kind in contract.kinds("traders/pods") if kind.startswith("result:")
    ]
    return {"description": "The command's result: ping, status, balance or profit.", "anyOf": results}


def _result_schema(contract: Contract, spec: ServiceSpec, method: str) -> dict[str, Any]:
    kind = _result_kind(spec, method)
    return _pod_result(contract) if kind is None else _schema(contract, spec.path, kind)


def _body_kind(spec: ServiceSpec, method: str) -> str:
    return "request" if spec.path == "authentication" else method


# -- AsyncAPI 3.0 -----------------------------------------------------------------------------------------------
def asyncapi_document(contract: Contract) -> dict[str, Any]:
    """AsyncAPI 3.0: one Socket.IO channel, every event with its payload, every method call with its ack."""
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    channel_ref = {"$ref": "#/channels/socket"}
    error = _schema(contract, ERROR_SERVICE, "object")

    for name in contract.events():
        service, kind = contract.event_kind(name)
        key = _key("event", name.replace(" ", "."))
        messages[key] = {
            "name": name,
            "title": f"{name} event",
            "summary": f"Sent to {_audience(SERVICES[service])} when a {service} record is {kind.split(':')[1]}.",
            "payload": {"schemaFormat": _SCHEMA_FORMAT, "schema": _schema(contract, service, kind)},
        }
        operations[_key("receive", name.replace(" ", "."))] = {
            "action": "receive",
            "channel": channel_ref,
            "summary": f"Receive `{name}`.",
            "messages": [{"$ref": f"#/channels/socket/messages/{key}"}],
        }

    for spec in SERVICES.values():
        for method in (method for method in _CALL_ARGUMENTS if method in spec.methods):
            call_key = _key("call", spec.path, method)
            ack_key = _key("ack", spec.path, method)
            arguments: list[dict[str, Any]] = [{"const": spec.path, "description": "The service path."}]
            for argument in _CALL_ARGUMENTS[method]:
                if argument == "id":
                    arguments.append(_ID_SCHEMA)
                elif argument == "data":
                    arguments.append(_schema(contract, spec.path, _body_kind(spec, method)))
                else:
                    arguments.append(_QUERY_SCHEMA)
            messages[call_key] = {
                "name": method,
                "title": f"{spec.path} {method} call",
                "summary": f"Socket.IO event `{method}`, arguments [path, {', '.join(_CALL_ARGUMENTS[method])}].",
                "payload": {
                    "schemaFormat": _SCHEMA_FORMAT,
                    "schema": {"type": "array", "prefixItems": arguments, "items": False, "minItems": 1},
                },
            }
            messages[ack_key] = {
                "name": f"{method} ack",
                "title": f"{spec.path} {method} acknowledgement",
                "summary": "The Socket.IO acknowledgement: [null, result] on success, [error] on failure.",
                "payload": {
                    "schemaFormat": _SCHEMA_FORMAT,
                    "schema": {
                        "oneOf": [
                            {
                                "type": "array",
                                "prefixItems": [{"type": "null"}, _result_schema(contract, spec, method)],
                                "items": False,
                                "minItems": 2,
                            },
                            {"type": "array", "prefixItems": [error], "items": False, "minItems": 1},
                        ]
                    },
                },
            }
            operations[call_key] = {
                "action": "send",
                "channel": channel_ref,
                "summary": f"Call `{method}` on `{spec.path}`.",
                "messages": [{"$ref": f"#/channels/socket/messages/{call_key}"}],
                "reply": {"channel": channel_ref, "messages": [{"$ref": f"#/channels/socket/messages/{ack_key}"}]},
            }

    return {
        "asyncapi": "3.0.0",
        "info": {"title": f"{_TITLE} (Socket.IO)", "version": _version(), "description": _DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "mock": {
                "host": "127.0.0.1:3030",
                "pathname": "/socket.io/",
                "protocol": "ws",
                "description": "cryptorobot-mock serve (Socket.IO 4 over Engine.IO 4, websocket or long-polling).",
            }
        },
        "channels": {
            "socket": {
                "address": "/socket.io/",
                "title": "The Socket.IO connection",
                "description": (
                    "Feathers speaks over one Socket.IO connection: a call is an event named after the method with "
                    "the service path as its first argument and an acknowledgement as its answer; service events "
                    "are named `<path> <event>`. Log in with a `create` call on `authentication`."
                ),
                "messages": messages,
            }
        },
        "operations": operations,
    }


def _audience(spec: ServiceSpec) -> str:
    if spec.scope is Scope.SHARED:
        return "every authenticated connection"
    return "the owner's connections"


# -- OpenAPI 3.1 -------------------------------------------------------------------------------------------------
def openapi_document(contract: Contract) -> dict[str, Any]:
    """OpenAPI 3.1 for the REST side: every service's routes, bodies, answers and Feathers errors."""
    schemas: dict[str, Any] = {"error": _schema(contract, ERROR_SERVICE, "object")}
    for spec in SERVICES.values():
        for kind in contract.kinds(spec.path):
            if not kind.startswith("event:"):
                schemas[_key(spec.path, kind)] = _schema(contract, spec.path, kind)
    if "traders/pods" in SERVICES:
        schemas[_key("traders/pods", "result")] = _pod_result(contract)
    paths: dict[str, Any] = {}
    for spec in SERVICES.values():
        collection: dict[str, Any] = {}
        item: dict[str, Any] = {}
        if "find" in spec.methods:
            collection["get"] = _operation(spec, "find", 200)
        if "create" in spec.methods:
            collection["post"] = _operation(spec, "create", 201)
        if "get" in spec.methods:
            item["get"] = _operation(spec, "get", 200)
        if "patch" in spec.methods:
            item["patch"] = _operation(spec, "patch", 200)
        if "remove" in spec.methods:
            (item if spec.path != "authentication" else collection)["delete"] = _operation(spec, "remove", 200)
        if collection:
            paths[f"/{spec.path}"] = collection
        if item:
            paths[f"/{spec.path}/{{id}}"] = {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                **item,
            }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": _DIALECT,
        "info": {"title": f"{_TITLE} (REST)", "version": _version(), "description": _DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:3030", "description": "cryptorobot-mock serve"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Authorization: ApiKey <key>` (the literal word ApiKey, then the key).",
                },
            },
            "responses": {
                "error": {
                    "description": "A Feathers error; the HTTP status equals its code.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}},
                }
            },
        },
    }


def _operation(spec: ServiceSpec, method: str, status: int) -> dict[str, Any]:
    kind = _result_kind(spec, method)
    result = _key(spec.path, kind if kind is not None else "result")
    operation: dict[str, Any] = {
        "operationId": _key(spec.path, method),
        "summary": f"{method} on {spec.path}",
        "tags": [spec.path],
        "responses": {
            str(status): {
                "description": "The result.",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{result}"}}},
            },
            "default": {"$ref": "#/components/responses/error"},
        },
    }
    if method in ("create", "patch"):
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{_key(spec.path, _body_kind(spec, method))}"}
                }
            },
        }
    if method == "find":
        operation["parameters"] = [
            {"name": "$limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100}},
            {"name": "$skip", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        ]
    if spec.path == "authentication" and method == "create":
        operation["security"] = []  # logging in needs no credentials
    return operation
