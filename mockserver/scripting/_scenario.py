"""Scenarios: timed steps the server runs on its clock, written in Python or as a YAML file.

`Scenario("flash crash").at(1.5).emit("exchanges/ticker patched", fields={"last": 40000})` and a YAML file with
`steps: [{at: 1.5, emit: {event: ..., fields: ...}}]` are the same thing: the builder makes the dicts the file
holds, and both are checked by one JSON Schema (`scenario.schema.json`, shipped beside this module) plus the
checks a schema cannot make (known events and services, exactly one action per step, saved names that exist). A
typo is an error naming the file, the line and the path, never a step that silently does nothing.

This module only describes and checks; the server layer runs the steps (`MockServer.run_scenario`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from mockserver.contract import Scope, default_contract, service_spec

if TYPE_CHECKING:
    import yaml
    from jsonschema import Draft202012Validator

__all__ = [
    "ACTIONS",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "Step",
    "StepBuilder",
    "check",
    "load_scenario",
    "parse_scenario",
    "resolve",
    "scenario_schema",
]

ACTIONS: Final = (
    "emit",
    "insert",
    "update",
    "call",
    "trader",
    "streams",
    "clock",
    "fault",
    "disconnect",
    "expire_tokens",
    "expect",
)
TIMING: Final = ("at", "every", "until", "note")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_-]+)*)\}")
PathPart = str | int


@cache
def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (also in the package as `mockserver/scripting/scenario.schema.json`)."""
    text = resources.files("mockserver.scripting").joinpath("scenario.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # on first use: `serve` starts without jsonschema

    return Draft202012Validator(scenario_schema())


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    """One thing wrong with a scenario, where it is."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.path}: {self.message}"


class ScenarioError(ValueError):
    """A scenario that cannot run; `problems` lists every problem found, one per line of the message."""

    def __init__(self, problems: Sequence[ScenarioProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True, slots=True)
class Step:
    """One checked step: when it runs, what it does (`action` and its `args` as written)."""

    index: int
    at: float
    every: float | None
    until: float | None
    action: str
    args: Any

    @property
    def path(self) -> str:
        return f"steps[{self.index}]"

    def times(self) -> Iterator[float]:
        """Every time the step runs, in seconds from the scenario's start."""
        if self.every is None or self.until is None:
            yield self.at
            return
        count = 0
        while (when := self.at + count * self.every) <= self.until + 1e-9:
            yield when
            count += 1


class Scenario:
    """A named list of timed steps; build one with `at`/`every`, or load a file with `Scenario.load(path)`."""

    def __init__(
        self,
        name: str = "scenario",
        *,
        seed: int | None = None,
        description: str | None = None,
        steps: Sequence[Mapping[str, Any]] = (),
        source: str = "<python>",
    ) -> None:
        self.name = name
        self.seed = seed
        self.description = description
        self.source = source
        self.raw_steps: list[dict[str, Any]] = [dict(step) for step in steps]

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, {len(self.raw_steps)} steps, from {self.source})"

    # -- building -----------------------------------------------------------------------------------------------
    def at(self, t: float) -> StepBuilder:
        """The next action runs `t` seconds (mock time) after the scenario starts."""
        return StepBuilder(self, {"at": t})

    def every(self, interval: float, *, until: float, start: float = 0.0) -> StepBuilder:
        """The next action runs at `start`, then every `interval` seconds up to and including `until`."""
        return StepBuilder(self, {"at": start, "every": interval, "until": until})

    # -- converting ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The scenario as a file would hold it."""
        out: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            out["description"] = self.description
        if self.seed is not None:
            out["seed"] = self.seed
        out["steps"] = [dict(step) for step in self.raw_steps]
        return out

    @classmethod
    def from_dict(cls, obj: Any, *, source: str = "<dict>") -> Scenario:
        """A scenario from its dict form, checked (ScenarioError lists every problem)."""
        problems = check(obj, source)
        if problems:
            raise ScenarioError(problems)
        return cls._unchecked(obj, source)

    @classmethod
    def _unchecked(cls, obj: Mapping[str, Any], source: str) -> Scenario:
        return cls(
            str(obj.get("name") or os.path.basename(source)),
            seed=obj.get("seed"),
            description=obj.get("description"),
            steps=obj["steps"],
            source=source,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Scenario:
        return load_scenario(path)

    def steps(self) -> tuple[Step, ...]:
        """The checked steps (ScenarioError if a step built in Python is wrong)."""
        problems = check(self.to_dict(), self.source)
        if problems:
            raise ScenarioError(problems)
        return tuple(_step(index, raw) for index, raw in enumerate(self.raw_steps))

    def actions(self) -> set[str]:
        """The actions the scenario uses (the server checks it supports each before it starts)."""
        return {name for raw in self.raw_steps for name in raw if name in ACTIONS}


def _step(index: int, raw: Mapping[str, Any]) -> Step:
    action = next(name for name in raw if name in ACTIONS)
    every = raw.get("every")
    return Step(
        index=index,
        at=float(raw.get("at", 0.0)),
        every=None if every is None else float(every),
        until=None if raw.get("until") is None else float(raw["until"]),
        action=action,
        args=raw[action],
    )


class StepBuilder:
    """What happens at the time `Scenario.at`/`every` chose; each method adds the step and returns the scenario."""

    def __init__(self, scenario: Scenario, timing: dict[str, Any]) -> None:
        self._scenario = scenario
        self._timing = timing

    def _add(self, action: str, args: Any) -> Scenario:
        self._scenario.raw_steps.append({**self._timing, action: args})
        return self._scenario

    @staticmethod
    def _given(**fields: Any) -> dict[str, Any]:
        return {name: value for name, value in fields.items() if value is not None}

    def emit(
        self, event: str, fields: Mapping[str, Any] | None = None, *, user: str | None = None, validate: bool = True
    ) -> Scenario:
        """Publish `event` with a payload generated from its schema, `fields` merged over it; to `user` (an
        email) when given."""
        args = self._given(event=event, fields=None if fields is None else dict(fields), user=user)
        if not validate:
            args["validate"] = False
        return self._add("emit", args)

    def insert(
        self,
        service: str,
        fields: Mapping[str, Any] | None = None,
        *,
        user: str | None = None,
        validate: bool = True,
        save: str | None = None,
    ) -> Scenario:
        """Store a generated record (owned by `user`) and publish `created`."""
        args = self._given(service=service, fields=None if fields is None else dict(fields), user=user, save=save)
        if not validate:
            args["validate"] = False
        return self._add("insert", args)

    def update(
        self, service: str, record_id: str, fields: Mapping[str, Any], *, validate: bool = True, save: str | None = None
    ) -> Scenario:
        args = self._given(service=service, id=record_id, fields=dict(fields), save=save)
        if not validate:
            args["validate"] = False
        return self._add("update", args)

    def call(
        self,
        service: str,
        method: str,
        *,
        as_user: str,
        record_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        save: str | None = None,
    ) -> Scenario:
        """Call a service method as the user with email `as_user`, under the same rules as a client."""
        return self._add(
            "call",
            {
                "as": as_user,
                **self._given(
                    service=service,
                    method=method,
                    id=record_id,
                    data=None if data is None else dict(data),
                    query=None if query is None else dict(query),
                    save=save,
                ),
            },
        )

    def trader(
        self,
        action: str,
        *,
        as_user: str | None = None,
        record_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        message: str | None = None,
        save: str | None = None,
    ) -> Scenario:
        """create, configure, start, stop, remove (as `as_user`) or fail (as the server) a trader."""
        args = self._given(
            action=action, id=record_id, data=None if data is None else dict(data), message=message, save=save
        )
        if as_user is not None:
            args["as"] = as_user
        return self._add("trader", args)

    def streams(self, off: bool = False, **intervals: float) -> Scenario:
        """Restart the live streams (ticker, trades, signals, messages, events: seconds between rounds)."""
        return self._add("streams", "off" if off else dict(intervals))

    def clock(self, *, speed: float | None = None, freeze: bool = False) -> Scenario:
        return self._add("clock", {"freeze": True} if freeze else self._given(speed=speed))

    def add_fault(self, spec: Mapping[str, Any]) -> Scenario:
        return self._add("fault", {"add": dict(spec)})

    def remove_fault(self, fault_id: str) -> Scenario:
        return self._add("fault", {"remove": fault_id})

    def clear_faults(self) -> Scenario:
        return self._add("fault", {"clear": True})

    def disconnect(self, *, email: str | None = None, connection: str | None = None, mode: str = "server") -> Scenario:
        return self._add("disconnect", {**self._given(email=email, connection=connection), "mode": mode})

    def expire_tokens(self, *, email: str | None = None) -> Scenario:
        return self._add("expire_tokens", self._given(email=email))

    def expect(self, spec: Mapping[str, Any]) -> Scenario:
        """A call handler, in the dict shape `server.expectations.add` takes."""
        return self._add("expect", dict(spec))


# -- loading ------------------------------------------------------------------------------------------------------
def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a YAML (or JSON) scenario file; ScenarioError names the file, line and path of each problem."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise ScenarioError([ScenarioProblem(source, None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ScenarioError([ScenarioProblem(source, None, "(file)", "not UTF-8 text")]) from None
    return parse_scenario(text, source=source)


def parse_scenario(text: str, *, source: str = "<string>") -> Scenario:
    import yaml  # PyYAML loads on first use: `serve` without scenarios starts without it

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        obj = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        message = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise ScenarioError([ScenarioProblem(source, line, "(yaml)", message)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([ScenarioProblem(source, None, "(yaml)", str(exc))]) from None
    if node is None:
        raise ScenarioError([ScenarioProblem(source, 1, "(root)", "empty file: expected a mapping with steps")])
    problems = _duplicate_keys(node, source, ())
    problems += check(obj, source, node)
    if problems:
        raise ScenarioError(problems)
    return Scenario._unchecked(obj, source)


def _duplicate_keys(node: yaml.Node, source: str, path: tuple[PathPart, ...]) -> list[ScenarioProblem]:
    import yaml

    problems: list[ScenarioProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                line = key_node.start_mark.line + 1
                problems.append(ScenarioProblem(source, line, _format((*path, key)), "duplicate key (hides the first)"))
            seen.add(key)
            problems += _duplicate_keys(value_node, source, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, source, (*path, index))
    return problems


def _format(path: Sequence[PathPart]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def _node_at(node: yaml.Node | None, path: Sequence[PathPart]) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(value node, key node) at a JSON path in a composed YAML tree; the deepest node found if the path stops."""
    import yaml

    key_node: yaml.Node | None = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            key_node, node = None, node.value[part]
        else:
            break
    return node, key_node


def _line(root: yaml.Node | None, path: Sequence[PathPart], *, key: str | None = None) -> int | None:
    import yaml

    if root is None:
        return None
    node, key_node = _node_at(root, path)
    if key is not None and isinstance(node, yaml.MappingNode):
        found = next((k for k, _ in node.value if k.value == key), None)
        if found is not None:
            return int(found.start_mark.line) + 1
    target = key_node if key_node is not None else node
    return None if target is None else int(target.start_mark.line) + 1


# -- checking -----------------------------------------------------------------------------------------------------
def check(obj: Any, source: str, root: yaml.Node | None = None) -> list[ScenarioProblem]:
    """Every problem of a scenario in dict form: the schema's, then what a schema cannot say."""

    def problem(path: Sequence[PathPart], message: str, *, key: str | None = None) -> ScenarioProblem:
        where = (*path, key) if key is not None else tuple(path)
        return ScenarioProblem(source, _line(root, path, key=key), _format(where), message)

    problems: list[ScenarioProblem] = []
    for error in sorted(_validator().iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - set(allowed)):
                hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
                problems.append(problem(path, f"unknown field {extra!r}{hint}", key=str(extra)))
        elif error.validator == "oneOf" and "description" in error.schema:
            problems.append(problem(path, f"{error.message}: {error.schema['description']}"))
        else:
            problems.append(problem(path, error.message))
    if problems or not isinstance(obj, dict):
        return problems
    saved: set[str] = set()
    for index, raw in enumerate(obj["steps"]):
        problems += _check_step(index, raw, saved, problem)
    return problems


def _check_step(index: int, raw: Mapping[str, Any], saved: set[str], problem: Any) -> list[ScenarioProblem]:
    """What the schema cannot say about one step; `saved` collects the names steps save, in file order."""
    here: list[PathPart] = ["steps", index]
    out: list[ScenarioProblem] = []
    actions = [name for name in raw if name in ACTIONS]
    if len(actions) != 1:
        got = ", ".join(actions) if actions else "none"
        return [problem(here, f"a step needs exactly one action (one of {', '.join(ACTIONS)}); got {got}")]
    if "at" not in raw and "every" not in raw:
        out.append(problem(here, "a step needs `at` (seconds from the start) or `every` with `until`"))
    if "every" in raw and "until" not in raw:
        out.append(problem(here, "`every` needs `until` (the last time it may run)"))
    if "until" in raw and raw["until"] < raw.get("at", 0):
        out.append(problem([*here, "until"], "`until` is before the step's first time `at`"))
    action = actions[0]
    args = raw[action]
    at = [*here, action]
    contract = default_contract()
    if action == "emit":
        event = args["event"]
        if event not in contract.events():
            out.append(problem([*at, "event"], f"unknown event {event!r}; known: {', '.join(contract.events())}"))
        elif (
            service_spec(event.rpartition(" ")[0]).scope is not Scope.SHARED
            and "user" not in args
            and "userId" not in (args.get("fields") or {})
        ):
            out.append(problem(at, "this event goes to one user: give `user` (an email) or fields.userId"))
    if action in ("insert", "update", "call") and args["service"] not in contract.services():
        out.append(
            problem([*at, "service"], f"unknown service {args['service']!r}; known: {', '.join(contract.services())}")
        )
    if action == "insert" and args["service"] in contract.services():
        scope = service_spec(args["service"]).scope
        if scope is Scope.OWNED and "user" not in args and "userId" not in (args.get("fields") or {}):
            out.append(problem(at, "records of this service have an owner: give `user` (an email) or fields.userId"))
    if action == "call" and args["method"] in ("get", "patch", "remove") and "id" not in args:
        out.append(problem(at, f"method {args['method']} needs an `id`"))
    if action == "trader":
        kind = args["action"]
        if kind != "fail" and "as" not in args:
            out.append(problem(at, f"trader {kind} needs `as` (the owner's email)"))
        if kind != "create" and "id" not in args:
            out.append(problem(at, f"trader {kind} needs an `id`"))
        if kind == "configure" and not args.get("data"):
            out.append(problem(at, "trader configure needs `data` (the fields to change)"))
    for name, path in _references(args, at):
        if name not in saved:
            known = f"; saved so far: {', '.join(sorted(saved))}" if saved else ""
            out.append(problem(path, f"${{{name}}} is not saved by an earlier step{known}"))
    if isinstance(args, dict) and isinstance(args.get("save"), str):
        saved.add(args["save"])
    return out


def _references(value: Any, path: list[PathPart]) -> Iterator[tuple[str, list[PathPart]]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _references(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, [*path, index])
    elif isinstance(value, str):
        for match in _REFERENCE.finditer(value):
            yield match.group(1), path


def resolve(value: Any, saved: Mapping[str, Any]) -> Any:
    """`value` with `${name.path}` references replaced by what earlier steps saved: a string that is exactly one
    reference becomes the referenced value (any JSON type); references inside longer strings are interpolated."""
    if isinstance(value, dict):
        return {key: resolve(item, saved) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, saved) for item in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole is not None:
        return _lookup(whole, saved)
    return _REFERENCE.sub(lambda match: str(_lookup(match, saved)), value)


def _lookup(match: re.Match[str], saved: Mapping[str, Any]) -> Any:
    name, rest = match.group(1), match.group(2)
    if name not in saved:
        raise KeyError(f"${{{name}}} was not saved (did the step that saves it fail?)")
    current = saved[name]
    for part in rest.split(".")[1:]:
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            raise KeyError(f"{match.group(0)}: no {part!r} in the saved value")
    return current

