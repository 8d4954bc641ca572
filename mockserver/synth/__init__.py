"""Seeded synthetic data: schema-valid records, event payloads and the demo dataset.

Entry points: `generate(service, kind=..., seed=...)` for one value, `Generator(seed)` for many (fast),
`generate_event("traders patched", seed=...)` for an event payload, and `dataset(seed)` for the coherent demo
data the server seeds its store from. The same seed always gives byte-identical JSON: timestamps derive from
a fixed epoch (2024-01-15T10:00:00.000Z), never the wall clock.
"""

from __future__ import annotations

from mockserver.synth._dataset import Dataset, UserSeed, dataset
from mockserver.synth._generator import Generator, generate, generate_event, kinds
from mockserver.synth._profiles import exchange_profile, pod_result
from mockserver.synth._trading import trader_create_defaults

__all__ = [
    "Dataset",
    "Generator",
    "UserSeed",
    "dataset",
    "exchange_profile",
    "generate",
    "generate_event",
    "kinds",
    "pod_result",
    "trader_create_defaults",
]
