"""The API contract: the service catalog, the JSON Schemas, and validation with Feathers-shaped errors.

One package holds both the catalog (which services, methods and events exist) and the schemas (what their
data looks like), because everything above it needs the two together: the server validates bodies and routes
calls, the generators build schema-valid records, the pytest plugin checks what went over the wire. It imports
nothing of ours but `mockserver.errors` (ARCHITECTURE.md, layer 1).

    contract = load_contract()
    contract.validate("traders", "patch", {"stoploss": 1})   # -> [{"path": "stoploss", ...}]
    contract.check("strategies", "create", body)               # raises BadRequest("Validation failed")
    contract.assert_event("traders patched", payload)          # in tests: raises ContractViolation
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver._lazy import lazy_names
from mockserver.contract._catalog import METHODS, SERVICES, Scope, ServiceSpec, service_spec
from mockserver.contract._contract import Contract, ContractViolation, default_contract, load_contract
from mockserver.contract._loader import ContractError
from mockserver.contract._problems import Problem, RuledProblem, problems_from_errors

if TYPE_CHECKING:
    from mockserver.contract._export import asyncapi_document, openapi_document


# The AsyncAPI/OpenAPI builders load when first asked for (the server never needs them).
__getattr__ = lazy_names(
    __name__, dict.fromkeys(("asyncapi_document", "openapi_document"), "mockserver.contract._export")
)


__all__ = [
    "METHODS",
    "SERVICES",
    "Contract",
    "ContractError",
    "ContractViolation",
    "Problem",
    "RuledProblem",
    "Scope",
    "ServiceSpec",
    "asyncapi_document",
    "default_contract",
    "load_contract",
    "openapi_document",
    "problems_from_errors",
    "service_spec",
]
