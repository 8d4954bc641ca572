"""cryptorobot-mock: a wire-compatible fake of the Cryptorobot.ai Feathers API, and its contract.

Entry points:
- `MockServer` — the server (`async with MockServer(seed=42) as server:` or `with MockServer().running()`).
- `load_contract()` / `Contract` — the JSON Schemas of every service, event and error, with validation.
- `generate()` / `dataset()` — seeded, schema-valid synthetic records and a coherent demo portfolio.
- `mockserver.strategies` — hypothesis strategies for every schema (imported on demand).

Names resolve on first use (PEP 562), so `import mockserver.contract` in a CI contract check does not pay for
aiohttp and python-socketio, and `serve` does not pay for hypothesis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver._lazy import lazy_names

if TYPE_CHECKING:
    from mockserver.contract import Contract, ContractError, ContractViolation, Problem, load_contract
    from mockserver.errors import FeathersError
    from mockserver.server import ActivityOptions, MockServer, Options, QueryLimits, ServerThread
    from mockserver.synth import Dataset, Generator, UserSeed, dataset, generate, generate_event

_HOME = {
    "ActivityOptions": "mockserver.server",
    "Contract": "mockserver.contract",
    "ContractError": "mockserver.contract",
    "ContractViolation": "mockserver.contract",
    "Dataset": "mockserver.synth",
    "FeathersError": "mockserver.errors",
    "Generator": "mockserver.synth",
    "MockServer": "mockserver.server",
    "Options": "mockserver.server",
    "Problem": "mockserver.contract",
    "QueryLimits": "mockserver.server",
    "ServerThread": "mockserver.server",
    "UserSeed": "mockserver.synth",
    "dataset": "mockserver.synth",
    "generate": "mockserver.synth",
    "generate_event": "mockserver.synth",
    "load_contract": "mockserver.contract",
}

__all__ = [
    "ActivityOptions",
    "Contract",
    "ContractError",
    "ContractViolation",
    "Dataset",
    "FeathersError",
    "Generator",
    "MockServer",
    "Options",
    "Problem",
    "QueryLimits",
    "ServerThread",
    "UserSeed",
    "dataset",
    "generate",
    "generate_event",
    "load_contract",
]


__getattr__ = lazy_names(__name__, _HOME)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
