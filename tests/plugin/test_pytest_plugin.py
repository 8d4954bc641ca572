"""The pytest plugin seen from a user's test suite: inner test files run with pytester (in-process where the
plugin's state allows, in a subprocess for xdist and for the import-cost check)."""

from __future__ import annotations

import json
import re

import pytest

import pytest_plugin._session  # noqa: F401  (loaded once here, not again by every in-process inner run)

pytest_plugins = ["pytester"]



def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:hypothesispytest", *args
    )


def test_every_fixture_serves_the_seeded_server(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import urllib.request

        def test_fixtures(cryptorobot_mock, cryptorobot_mock_url, cryptorobot_mock_users, cryptorobot_mock_contract):
            assert cryptorobot_mock_url == cryptorobot_mock.url and cryptorobot_mock_url.startswith("http://127.0.0.1:")
            first = cryptorobot_mock_users[0]
            assert (first.email, first.password) == ("user@example.com", "your-password")
            assert first.id == "507f1f77bcf86cd799439011" and first.api_key
            assert cryptorobot_mock_contract.validate("strategies", "create", {"name": "x"}) == []

        def test_client(cryptorobot_mock_client):
            assert cryptorobot_mock_client.user.email == "user@example.com"
            assert cryptorobot_mock_client.find("traders")["total"] == 5

        def test_factory(cryptorobot_mock, cryptorobot_mock_factory):
            own = cryptorobot_mock_factory(seed=7, clock="manual")
            assert own.url != cryptorobot_mock.url and own.seed == 7
            assert own.clock.mode == "manual"
        """,
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["cryptorobot-mock: seed 42"])


def test_each_test_gets_the_seeded_state_back(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.parametrize("round", range(3))
        def test_mutate(cryptorobot_mock, cryptorobot_mock_client, round):
            assert cryptorobot_mock_client.find("strategies", {"$limit": 0})["total"] == 3
            assert cryptorobot_mock.connections()[0]["email"] == "user@example.com"
            assert len(cryptorobot_mock.connections()) == 1  # the previous test's client is gone
            cryptorobot_mock_client.create("strategies", {"name": f"round {round}"})
            cryptorobot_mock.store.tables["traders"].clear()

        @pytest.mark.cryptorobot_mock(clock="manual")
        def test_manual(cryptorobot_mock):
            cryptorobot_mock.advance(60)
            assert cryptorobot_mock.clock.iso() == "2024-01-15T10:01:00.000Z"

        def test_real_again(cryptorobot_mock):
            assert cryptorobot_mock.clock.mode == "real"
            assert len(cryptorobot_mock.store.tables["traders"]) > 0
        """,
    )
    result.assert_outcomes(passed=5)


def test_the_marker_configures_a_test_of_its_own(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.cryptorobot_mock(seed=7, users=["ann@example.com:secret-1"])
        def test_configured(cryptorobot_mock, cryptorobot_mock_users):
            assert cryptorobot_mock.seed == 7
            assert [u.email for u in cryptorobot_mock_users] == ["ann@example.com"]

        def test_default(cryptorobot_mock, cryptorobot_mock_users):
            assert cryptorobot_mock.seed == 42 and cryptorobot_mock_users[0].email == "user@example.com"

        @pytest.mark.cryptorobot_mock(colour="red")
        def test_typo(cryptorobot_mock):
            pass

        @pytest.mark.cryptorobot_mock(clock="sideways")
        def test_bad_clock(cryptorobot_mock):
            pass
        """,
    )
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*unknown argument(s) [[]'colour'[]]; known: seed, users, scenario, faults, clock, options, "
            "expect_violations",
            "*clock must be one of manual, real, scaled, got 'sideways'",
        ]
    )


def test_configuration_fixtures_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def cryptorobot_mock_seed_users():
            return ["bob@example.com:pw-of-bob"]

        @pytest.fixture(scope="session")
        def cryptorobot_mock_options():
            return {"clock": "manual"}
        """
    )
    result = run(
        pytester,
        """
        def test_overridden(cryptorobot_mock, cryptorobot_mock_users):
            assert cryptorobot_mock_users[0].email == "bob@example.com"
            assert cryptorobot_mock.clock.mode == "manual"
        """,
    )
    result.assert_outcomes(passed=1)


SEED_TEST = """
def test_seed(cryptorobot_mock, cryptorobot_mock_seed):
    assert cryptorobot_mock.seed == cryptorobot_mock_seed
    print("SEED", cryptorobot_mock_seed)
"""


@pytest.mark.parametrize(
    ("args", "ini", "seed"),
    [(("--cryptorobot-mock-seed=7",), None, 7), ((), "9", 9), (("--cryptorobot-mock-seed=5",), "9", 5)],
)
def test_the_seed_option_and_ini_value(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str | None, seed: int
) -> None:
    if ini is not None:
        pytester.makeini(f"[pytest]\ncryptorobot_mock_seed = {ini}\n")
    result = run(pytester, SEED_TEST, "-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"cryptorobot-mock: seed {seed}", f"*SEED {seed}*"])


def test_a_random_seed_is_printed_so_the_run_reproduces(pytester: pytest.Pytester) -> None:
    result = run(pytester, SEED_TEST, "-s", "--cryptorobot-mock-seed=random")
    result.assert_outcomes(passed=1)
    header = re.search(
        r"cryptorobot-mock: seed (\d+) \(random; --cryptorobot-mock-seed=(\d+) reproduces", result.stdout.str()
    )
    assert header is not None, result.stdout.str()
    assert header.group(1) == header.group(2)
    result.stdout.fnmatch_lines([f"*SEED {header.group(1)}*"])


def test_a_bad_seed_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, SEED_TEST, "--cryptorobot-mock-seed=lucky")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cryptorobot-mock-seed must be an integer or 'random', got 'lucky'*"])


def test_a_failing_test_names_the_seed(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        def test_fails(cryptorobot_mock):
            assert cryptorobot_mock.store.tables["traders"] == {}
        """,
        "--cryptorobot-mock-seed=11",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cryptorobot-mock seed 11 (--cryptorobot-mock-seed=11 reproduces the data)*"])


def test_a_failing_scheduled_callback_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.cryptorobot_mock(clock="manual")
        def test_step_breaks(cryptorobot_mock):
            def boom():
                raise RuntimeError("the scenario step broke")
            cryptorobot_mock.call(cryptorobot_mock.server.clock.call_later, 1, boom)
            cryptorobot_mock.advance(2)

        def test_next_is_clean(cryptorobot_mock):
            pass
        """,
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: the scenario step broke*"])


VIOLATING = """
import pytest
from mockserver.errors import BadRequest

MARK

def test_sends_a_bad_body(cryptorobot_mock_client):
    with pytest.raises(BadRequest):
        cryptorobot_mock_client.create("strategies", {"name": "BTC", "stoploss": 0.5, "colour": "red"})
"""


def test_a_request_that_breaks_the_contract_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run(pytester, VIOLATING.replace("MARK", ""))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '*ContractViolation: the client sent 1 request the real API refuses with BadRequest "Validation failed":',
            "*strategies.create from user@example.com (connection *):",
            "*colour: is not a known field",
            "*stoploss: must be <= 0",
            "*expect_violations=True*",
        ]
    )


def test_expected_violations_pass(pytester: pytest.Pytester) -> None:
    marked = VIOLATING.replace("MARK", "pytestmark = pytest.mark.cryptorobot_mock(expect_violations=True)")
    result = run(pytester, marked)
    result.assert_outcomes(passed=1)


def test_a_run_without_the_fixtures_loads_no_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_plain():
            loaded = [m for m in ("mockserver", "aiohttp", "socketio", "pytest_plugin._session") if m in sys.modules]
            assert loaded == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)


def test_xdist_workers_each_have_their_own_server_with_the_same_seed(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    out = pytester.path / "seen"
    out.mkdir()
    pytester.makepyfile(
        test_parallel=f"""
        import json, os, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_isolated(cryptorobot_mock, cryptorobot_mock_client, n):
            assert cryptorobot_mock_client.find("strategies", {{"$limit": 0}})["total"] == 3
            cryptorobot_mock_client.create("strategies", {{"name": f"n{{n}}"}})
            record = {{"worker": os.environ["PYTEST_XDIST_WORKER"], "url": cryptorobot_mock.url,
                      "seed": cryptorobot_mock.seed}}
            with open(os.path.join({str(out)!r}, f"{{n}}.json"), "w") as f:
                json.dump(record, f)
        """
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "-p",
        "no:hypothesispytest",
        "-n",
        "2",
        "--cryptorobot-mock-seed=random",
    )
    result.assert_outcomes(passed=6)
    header = re.search(r"cryptorobot-mock: seed (\d+)", result.stdout.str())
    assert header is not None, result.stdout.str()
    seen = [json.loads(path.read_text()) for path in out.iterdir()]
    assert {record["seed"] for record in seen} == {int(header.group(1))}
    urls_by_worker: dict[str, set[str]] = {}
    for record in seen:
        urls_by_worker.setdefault(record["worker"], set()).add(record["url"])
    assert len(urls_by_worker) == 2, urls_by_worker  # both workers ran tests ...
    assert all(len(urls) == 1 for urls in urls_by_worker.values())  # ... each on its one session server
    assert len(set.union(*urls_by_worker.values())) == 2
