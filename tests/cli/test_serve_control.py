"""`serve --control-token`: the control API of a running `serve` process asks every caller for the token."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

from test_serve import ROOT, SERVE, serving


def get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_control_token_is_required_once_given() -> None:
    with serving("--quiet-streams", "--control-token", "cli-s3cret") as (_proc, url, _lines):
        status, body = get(f"{url}/_mock/clock")
        assert (status, body["name"]) == (403, "Forbidden")
        assert get(f"{url}/_mock/clock", "wrong")[0] == 403
        status, body = get(f"{url}/_mock/clock", "cli-s3cret")
        assert (status, body["mode"]) == (200, "real")


def test_without_a_token_loopback_clients_need_none() -> None:
    with serving("--quiet-streams") as (_proc, url, _lines):
        status, body = get(f"{url}/_mock/connections")
        assert (status, body) == (200, [])


def test_a_token_that_cannot_be_sent_in_a_header_is_a_usage_error() -> None:
    done = subprocess.run(
        [*SERVE, "--control-token", "has space"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert "control_token must be" in done.stderr
    assert "Traceback" not in done.stderr
