"""The control panel in headless Chromium, with an official Feathers client connected to the same mock.

Each test drives the panel as a person would (labels, buttons, the keyboard) and checks what the client and the
journal saw. Screenshots go to pytest's temporary folder (`panel-screenshots/`), never into the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from panel_support import WAIT_S, LiveClient, Page

from mockserver import MockServer
from mockserver.server import ServerThread

TIMEOUT_MS = WAIT_S * 1000


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_panel(panel: Page, url: str) -> Any:
    page = panel.page
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/_mock/")
    page.locator("#live.on").wait_for()
    page.locator("#emit-fields .field").first.wait_for()  # the form is prefilled from the generated payload
    return page


def connection_row(page: Any, email: str) -> Any:
    return page.locator("#connections tr", has_text=email)


def test_the_panel_shows_a_client_and_emits_traders_patched_to_it(
    panel: Page, panel_server: ServerThread, feathers_client: LiveClient, screenshots: Path
) -> None:
    page = open_panel(panel, panel_server.url)
    row = connection_row(page, "user@example.com")
    row.wait_for()
    assert row.locator("td").nth(1).inner_text() == "websocket"

    page.get_by_label("Event", exact=True).select_option("traders patched")
    page.get_by_label("To user").fill("user@example.com")
    page.keyboard.press("Tab")  # leaving the field makes a new payload, one for that user
    user_id = panel_server.server.store.user_by_email("user@example.com")["_id"]
    expect(page.locator("#emit-fields [data-field=userId] input")).to_have_value(user_id)
    page.locator("#emit-fields [data-field=name] input").fill("Panel trader")
    page.get_by_role("button", name="Send").click()

    line = feathers_client.wait_for(lambda line: line["type"] == "event", "the emitted traders patched")
    assert line["event"] == "traders patched"
    assert line["data"]["name"] == "Panel trader"
    assert line["data"]["userId"] == user_id
    page.locator("#notice", has_text="Sent traders patched to 1 connection(s).").wait_for()
    page.locator("#journal li[data-kind=event]", has_text="traders patched").first.wait_for()
    page.screenshot(path=str(screenshots / "emit-traders-patched.png"))

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
                 .filter((c) => !c.closest('dialog'))
                 .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                                && !(c.tagName === 'BUTTON' && c.textContent.trim()))
                 .map((c) => c.id || c.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    panel.assert_no_errors()


def test_a_disconnect_from_the_panel_makes_the_client_reconnect_and_log_in_again(
    panel: Page, panel_server: ServerThread, feathers_client: LiveClient, screenshots: Path
) -> None:
    page = open_panel(panel, panel_server.url)
    row = connection_row(page, "user@example.com")
    row.wait_for()
    first_id = row.locator(".sid").inner_text()

    row.get_by_label("Disconnect mode for user@example.com").select_option("transport")
    row.get_by_role("button", name="Disconnect user@example.com").click()

    feathers_client.wait_for(lambda line: line["type"] == "disconnect", "the disconnect")
    feathers_client.wait_for(lambda line: line["type"] == "login", "the re-authentication after the reconnect")
    page.locator("#connections tr .sid", has_text=first_id).wait_for(state="detached")
    connection_row(page, "user@example.com").wait_for()
    assert page.locator("#connections tr").count() == 1
    page.locator("#journal li[data-kind=disconnect]").first.wait_for()
    page.screenshot(path=str(screenshots / "after-reconnect.png"))
    panel.assert_no_errors()


def test_a_delay_fault_added_in_the_panel_shows_in_the_journal(
    panel: Page, panel_server: ServerThread, feathers_client: LiveClient, screenshots: Path
) -> None:
    page = open_panel(panel, panel_server.url)
    page.locator("summary", has_text="Faults").focus()
    page.keyboard.press("Enter")  # the sections open from the keyboard (each is a <details>)
    page.get_by_label("Fault action").select_option("delay-ack")
    page.get_by_label("On service").fill("strategies")
    page.get_by_label("Seconds").fill("0.3")
    page.get_by_role("button", name="Add fault").click()
    page.locator("#faults li", has_text="delay-ack (service=strategies)").wait_for()
    assert [fault.to_json()["action"] for fault in panel_server.server.faults.list()] == ["delay-ack"]

    feathers_client.call("strategies", "find", {"query": {"$limit": 1}})
    result = feathers_client.wait_for(lambda line: line["type"] in ("result", "callError"), "the delayed find")
    assert result["type"] == "result"
    assert result["ms"] >= 250  # the ack waited for the fault's 0.3 s (a lower bound: never flaky)

    page.get_by_label("Kind").select_option("fault")
    fault_row = page.locator("#journal li[data-kind=fault]", has_text="delay-ack").first
    fault_row.wait_for()
    assert page.locator("#journal li:not([data-kind=fault])").count() == 0  # the kind filter
    fault_row.locator("summary").click()
    assert '"seconds": 0.3' in fault_row.locator("pre").inner_text()
    page.screenshot(path=str(screenshots / "delay-fault-journal.png"))

    page.get_by_role("button", name="Remove fault delay-ack (service=strategies)").click()
    page.locator("#faults li").wait_for(state="detached")
    assert panel_server.server.faults.list() == []
    panel.assert_no_errors()


def test_an_invalid_payload_shows_its_problems_beside_the_fields_and_is_not_sent(
    panel: Page, panel_server: ServerThread, feathers_client: LiveClient, screenshots: Path
) -> None:
    page = open_panel(panel, panel_server.url)
    page.get_by_label("Event", exact=True).select_option("traders patched")
    page.locator("#emit-fields [data-field=status] input").fill("flying")
    page.locator("#emit-fields [data-field=dry_run] input").fill("")  # left out: a required field
    page.get_by_role("button", name="Send").click()

    status = page.locator("#emit-fields [data-field=status]")
    status.locator(".problem", has_text="must be one of").wait_for()
    assert status.locator("input").get_attribute("aria-invalid") == "true"
    page.locator("#emit-fields [data-field=dry_run] .problem", has_text="is a required property").wait_for()
    page.locator("#notice", has_text="Not sent").wait_for()
    assert page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true"  # the first bad field
    page.screenshot(path=str(screenshots / "invalid-payload.png"))

    feathers_client.call("strategies", "find", {"query": {"$limit": 1}})  # a marker: events arrive in order
    feathers_client.wait_for(lambda line: line["type"] == "result", "the marker call")
    assert not [line for line in feathers_client.seen if line["type"] == "event"]
    assert panel_server.server.journal.entries("event") == []
    panel.assert_no_errors()


def test_with_a_control_token_the_panel_asks_for_it_once_per_tab(panel: Page, screenshots: Path) -> None:
    with MockServer(seed=1, control_token="panel-s3cret").running() as handle:
        page = panel.page
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(handle.url + "/_mock/")
        dialog = page.get_by_role("dialog", name="Control token")
        dialog.wait_for()
        page.screenshot(path=str(screenshots / "token-dialog.png"))
        page.get_by_label("Token", exact=True).fill("panel-s3cret")
        page.keyboard.press("Enter")
        page.locator("#live.on").wait_for()
        page.reload()  # kept for the tab: no second question
        page.locator("#live.on").wait_for()
        assert not dialog.is_visible()
    # The first request without the token was refused (403): the browser logs that one failed load.
    assert [error for error in panel.errors if "403" not in error] == []


def test_scenarios_tapes_clock_filters_pause_and_reset_from_the_panel(
    panel: Page, panel_server: ServerThread, feathers_client: LiveClient, screenshots: Path, tmp_path: Path
) -> None:
    page = open_panel(panel, panel_server.url)
    connection_row(page, "user@example.com").wait_for()
    page.get_by_text("Scenarios and tapes").click()

    tape = tmp_path / "panel.tape"
    page.get_by_label("Record to").fill(str(tape))
    page.get_by_role("button", name="Start recording").click()
    page.locator("#notice", has_text=f"Recording to {tape}.").wait_for()
    emit = "{event: traders patched, user: user@example.com, fields: {name: Scenario trader}}"
    scenario = f"name: from the panel\nsteps:\n  - at: 0\n    emit: {emit}\n"
    page.get_by_label("Scenario (YAML)").fill(scenario)
    page.get_by_role("button", name="Run scenario").click()
    line = feathers_client.wait_for(lambda line: line["type"] == "event", "the scenario's traders patched")
    assert line["data"]["name"] == "Scenario trader"
    page.get_by_role("button", name="Stop recording").click()
    page.locator("#notice", has_text="Recording stopped.").wait_for()
    assert tape.stat().st_size > 0

    page.get_by_label("Tape").fill(str(tape))
    page.get_by_label("Replay speed").fill("10")
    page.get_by_role("button", name="Replay").click()
    line = feathers_client.wait_for(lambda line: line["type"] == "event", "the replayed traders patched")
    assert line["data"]["name"] == "Scenario trader"

    # The journal's user filter and pause.
    page.get_by_label("User", exact=True).fill("trader@example.com")
    expect(page.locator("#journal li")).to_have_count(0)
    page.get_by_label("User", exact=True).fill("user@")
    expect(page.locator("#journal li[data-kind=event]")).to_have_count(2)
    page.get_by_role("button", name="Pause").click()
    panel_server.emit("traders", "patched", {**line["data"], "name": "While paused"})
    feathers_client.wait_for(lambda line: line["type"] == "event", "the event sent while paused")
    expect(page.get_by_role("button", name="Resume (1 new)")).to_be_visible()
    expect(page.locator("#journal li[data-kind=event]")).to_have_count(2)
    page.get_by_role("button", name="Resume (1 new)").click()
    expect(page.locator("#journal li[data-kind=event]")).to_have_count(3)

    # The clock: freeze, then advance an hour.
    page.get_by_text("Clock and store").click()
    page.get_by_role("button", name="Freeze").click()
    expect(page.locator("#clock-mode")).to_have_text("(manual)")
    before = panel_server.server.clock.time()
    page.get_by_label("Advance (s)").fill("3600")
    page.get_by_role("button", name="Advance", exact=True).click()
    page.locator("#notice", has_text="Advanced 3600 s.").wait_for()
    assert panel_server.server.clock.time() - before == pytest.approx(3600, abs=1)
    page.screenshot(path=str(screenshots / "tapes-clock-filters.png"), full_page=True)

    # Reset: the connection is dropped, the journal view starts over.
    page.get_by_role("button", name="Reset the store").click()
    page.locator("#notice", has_text="The store was reset.").wait_for()
    feathers_client.wait_for(lambda line: line["type"] == "disconnect", "the reset's disconnect")
    expect(page.locator("#connections tr")).to_have_count(0)
    expect(page.locator("#journal li[data-kind=event]")).to_have_count(0)
    assert panel_server.server.clock.describe()["mode"] == "real"
    panel.assert_no_errors()
