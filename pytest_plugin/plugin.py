"""The pytest plugin (registered with the `pytest11` entry point `cryptorobot_mock`).

One mock server per session (per xdist worker) and configuration, reset before each test, so a test costs
milliseconds. Only pytest is imported here; the mock loads when a test first asks for a `cryptorobot_mock*`
fixture, so a run that uses none of them pays nothing. See docs/pytest-plugin.md.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockserver.contract import Contract
    from pytest_plugin._handle import MockHandle, SyncClient, User
    from pytest_plugin._session import Pool

DEFAULT_SEED = 42
SEED_KEY = pytest.StashKey[tuple[int, bool]]()  # (seed, picked at random)
HANDLES_KEY = pytest.StashKey[list["MockHandle"]]()
MARKER_HELP = (
    "cryptorobot_mock(seed=..., users=[...], scenario=..., faults=[...], clock='manual'|'real', options={...}, "
    "expect_violations=False): configure the cryptorobot-mock server of this test"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cryptorobot-mock")
    help_text = f"seed of the cryptorobot-mock dataset (default {DEFAULT_SEED}; 'random' picks one and prints it)"
    group.addoption("--cryptorobot-mock-seed", dest="cryptorobot_mock_seed", default=None, help=help_text)
    parser.addini("cryptorobot_mock_seed", help=help_text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    worker = getattr(config, "workerinput", None)
    if worker is not None and "cryptorobot_mock_seed" in worker:  # the controller's choice, random or not
        config.stash[SEED_KEY] = (int(worker["cryptorobot_mock_seed"]), bool(worker["cryptorobot_mock_random"]))
        return
    raw = config.getoption("cryptorobot_mock_seed") or config.getini("cryptorobot_mock_seed") or DEFAULT_SEED
    if str(raw).strip().lower() == "random":
        config.stash[SEED_KEY] = (random.SystemRandom().randrange(2**31), True)
        return
    try:
        config.stash[SEED_KEY] = (int(str(raw).strip()), False)
    except ValueError:
        raise pytest.UsageError(f"--cryptorobot-mock-seed must be an integer or 'random', got {raw!r}") from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker uses the controller's seed, so a random one is the same across workers."""
    seed, picked = node.config.stash[SEED_KEY]
    node.workerinput["cryptorobot_mock_seed"] = seed
    node.workerinput["cryptorobot_mock_random"] = picked


def pytest_report_header(config: pytest.Config) -> str:
    seed, picked = config.stash[SEED_KEY]
    if picked:
        return f"cryptorobot-mock: seed {seed} (random; --cryptorobot-mock-seed={seed} reproduces this run)"
    return f"cryptorobot-mock: seed {seed}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body: fail it with what its servers saw go wrong (contract violations, failed scheduled
    callbacks); if it failed already, add them as notes to its own error."""
    __tracebackhide__ = True  # the report shows the problem, not this hook
    try:
        result = yield
    except BaseException as error:
        handles = item.stash.get(HANDLES_KEY, [])
        if handles and isinstance(error, Exception):
            _note_failure(item, error, handles)
        raise
    handles = item.stash.get(HANDLES_KEY, [])
    if handles:
        from pytest_plugin._session import problems_after

        problems = [problem for handle in handles for problem in problems_after(handle)]
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise BaseExceptionGroup("cryptorobot-mock: the server saw these problems during the test", problems)
    return result


def _note_failure(item: pytest.Item, error: Exception, handles: list[MockHandle]) -> None:
    from pytest_plugin._session import problems_after

    for handle in handles:
        for problem in problems_after(handle):
            error.add_note(f"cryptorobot-mock also saw: {type(problem).__name__}: {problem}")
    seed = handles[0].seed
    error.add_note(f"cryptorobot-mock seed {seed} (--cryptorobot-mock-seed={seed} reproduces the data)")


# -- configuration fixtures: override them in a conftest.py (session scope) ----------------------------------------
@pytest.fixture(scope="session")
def cryptorobot_mock_seed(pytestconfig: pytest.Config) -> int:
    """The dataset seed: `--cryptorobot-mock-seed`, the `cryptorobot_mock_seed` ini value, or 42."""
    return pytestconfig.stash[SEED_KEY][0]


@pytest.fixture(scope="session")
def cryptorobot_mock_seed_users() -> Sequence[Any] | None:
    """Accounts to seed (`"email:password"` strings or `UserSeed`s); None: the demo users."""
    return None


@pytest.fixture(scope="session")
def cryptorobot_mock_scenario() -> Any:
    """A scenario (YAML path, dict or `Scenario`) every test's server runs from its start; None: none."""
    return None


@pytest.fixture(scope="session")
def cryptorobot_mock_options() -> dict[str, Any]:
    """More `MockServer` arguments, e.g. `{"clock": "manual", "options": Options(token_lifetime=60)}`."""
    return {}


# -- the server ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _cryptorobot_mock_pool() -> Iterator[Pool]:
    from pytest_plugin._session import Pool

    pool = Pool()
    yield pool
    pool.close()


@pytest.fixture
def cryptorobot_mock(
    request: pytest.FixtureRequest,
    _cryptorobot_mock_pool: Pool,
    cryptorobot_mock_seed: int,
    cryptorobot_mock_seed_users: Sequence[Any] | None,
    cryptorobot_mock_scenario: Any,
    cryptorobot_mock_options: dict[str, Any],
) -> MockHandle:
    """The session's server for this test, reset to the seeded dataset (see `MockHandle`)."""
    from pytest_plugin._session import resolve, start

    marker = request.node.get_closest_marker("cryptorobot_mock")
    if marker is not None and marker.args:
        pytest.fail("the cryptorobot_mock marker takes keyword arguments only", pytrace=False)
    try:
        config = resolve(
            seed=cryptorobot_mock_seed,
            users=cryptorobot_mock_seed_users,
            scenario=cryptorobot_mock_scenario,
            options=cryptorobot_mock_options,
            marker=None if marker is None else marker.kwargs,
        )
    except (TypeError, ValueError) as error:
        pytest.fail(str(error), pytrace=False)
    handle = start(_cryptorobot_mock_pool.get(config), config)
    request.node.stash.setdefault(HANDLES_KEY, []).append(handle)
    return handle


@pytest.fixture
def cryptorobot_mock_url(cryptorobot_mock: MockHandle) -> str:
    return cryptorobot_mock.url


@pytest.fixture
def cryptorobot_mock_users(cryptorobot_mock: MockHandle) -> list[User]:
    """The seeded accounts: (email, password, id, api_key) named tuples, the first demo user first."""
    return cryptorobot_mock.users


@pytest.fixture(scope="session")
def cryptorobot_mock_contract() -> Contract:
    """The API's JSON Schemas with validation (`contract.validate("orders", "create", body)`)."""
    from mockserver.contract import default_contract

    return default_contract()


@pytest.fixture
def cryptorobot_mock_client(cryptorobot_mock: MockHandle) -> Iterator[SyncClient]:
    """A Python Feathers socket client, connected and logged in as the first seeded user."""
    from pytest_plugin._handle import open_client

    client = open_client(cryptorobot_mock.thread, cryptorobot_mock.user())
    yield client
    client.close()


@pytest.fixture
def cryptorobot_mock_factory(
    request: pytest.FixtureRequest, cryptorobot_mock_seed: int
) -> Iterator[Callable[..., MockHandle]]:
    """`cryptorobot_mock_factory(seed=7, clock="manual", faults=[...], expect_violations=False, **MockServer
    arguments)`: a fresh server of this test's own, stopped when the test ends."""
    from mockserver.server import MockServer, ServerThread
    from pytest_plugin._handle import MockHandle

    started: list[ServerThread] = []

    def make(*, faults: Sequence[Any] = (), expect_violations: bool = False, **kwargs: Any) -> MockHandle:
        kwargs.setdefault("seed", cryptorobot_mock_seed)
        thread = ServerThread(MockServer(**kwargs))
        thread.start()
        started.append(thread)
        for spec in faults:
            thread.call(thread.server.faults.add, spec)
        handle = MockHandle(thread, expect_violations=expect_violations)
        request.node.stash.setdefault(HANDLES_KEY, []).append(handle)
        return handle

    yield make
    for thread in started:
        thread.stop()
