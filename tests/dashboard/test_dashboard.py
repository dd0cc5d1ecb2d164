"""The dashboard at `/`, driven in Debian's Chromium against real servers (issue #5).

Every check that the page did something is confirmed through the API (or the
fake agent's recorded prompt), not only through what the page shows.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer, wait_for
from tests.dashboard.conftest import PHONE, ServerFactory, artifact, lan_address

Connect = Callable[[LiveServer], httpx.Client]

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DASH = "\u2013"  # en dash, as in the page's "1-10 of 14"


def open_dashboard(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("html[data-ready]")


def session_id_of(page: Any) -> str:
    page.wait_for_url(re.compile(r"#/sessions/.+"))
    return unquote(page.url.split("#/sessions/", 1)[1])


def status_of(client: httpx.Client, session_id: str) -> str:
    return str(client.get(f"/api/sessions/{session_id}").json()["session"]["status"])


def wait_status(client: httpx.Client, session_id: str, status: str) -> None:
    wait_for(lambda: status_of(client, session_id) == status, timeout=15)


def log_ids(page: Any) -> list[int]:
    return list(
        page.eval_on_selector_all("#log .entry", "els => els.map(e => Number(e.dataset.id))")
    )


def history_ids(client: httpx.Client, session_id: str, **params: str) -> list[int]:
    body = client.get(
        "/api/events/history", params={"sessionId": session_id, "limit": "1000", **params}
    ).json()
    return [int(e["id"]) for e in body["events"]]


def shows_the_api_state(page: Any, client: httpx.Client, session_id: str) -> bool:
    """The page's phase, progress and task rows are what the API says right now."""
    session = client.get(f"/api/sessions/{session_id}").json()["session"]
    tasks = client.get(f"/api/sessions/{session_id}/tasks").json()["tasks"]
    rows = page.eval_on_selector_all("#tasks-body tr", "rs => rs.map(r => r.dataset.status)")
    return bool(
        page.inner_text("#meta-phase") == (session["currentPhase"] or "\u2014")
        and page.get_attribute("#session-progress", "aria-valuenow")
        == str(session["completedTasks"])
        and rows == [t["status"] for t in tasks]
    )


def fits_width(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


# The tasks table (one page here) agrees with the session's task counts.
TABLE_MATCHES_COUNTS = """() => {
  const rows = document.querySelectorAll('#tasks-body tr[data-status=completed]').length;
  const chip = document.querySelector('#tasks-summary [data-status=completed]');
  return rows === (chip ? parseInt(chip.textContent, 10) : 0);
}"""

UNLABELLED = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) bad.push(el.id || el.name);
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!(el.textContent.trim() || el.getAttribute('aria-label'))) bad.push(el.outerHTML.slice(0, 80));
  }
  return bad;
}"""


def test_a_running_session_updates_live_and_its_log_resumes_after_a_drop(
    page: Any, make_server: ServerFactory, connect: Connect
) -> None:
    server = make_server("slow")
    open_dashboard(page, server.url + "/")
    page.click("#start-submit")  # Claude Code, PRD.md found in the project
    sid = session_id_of(page)
    client = connect(server)

    # Progress bar, tasks, agents and timeline follow the run as it happens.
    progress: set[int] = set()
    design_states: set[str] = set()

    def iteration_two_started() -> bool:
        progress.add(int(page.get_attribute("#session-progress", "aria-valuenow") or 0))
        row = page.locator("#tasks-body tr", has_text="Design the storage layer")
        if row.count():
            design_states.add(str(row.get_attribute("data-status")))
        return page.locator('#timeline li[data-iteration="2"]').count() > 0

    wait_for(iteration_two_started, timeout=25, interval=0.1)
    assert len(progress) >= 3, progress  # e.g. 0 → 2 → 4 of 5, not one jump at the end
    assert {"running", "completed"} <= design_states, design_states
    explore = page.locator("#agents-body tr", has_text="Explore")
    expect(explore.first).to_contain_text("Survey the codebase")
    expect(page.locator('#agents-body tr[data-agent-id="main-1"]')).to_contain_text("completed")
    first = page.locator('#timeline li[data-iteration="1"]')
    expect(first).to_have_attribute("data-status", "completed")
    expect(first.locator(".phase")).to_have_text(["completed: design", "completed: implement"])
    expect(page.locator("#session-status")).to_have_text("running")
    session = client.get(f"/api/sessions/{sid}").json()["session"]
    assert session["inputTokens"] > 0
    expect(page.locator("#meta-cost")).not_to_have_text("$0.00")

    # The log holds the session's events once each, in the order of the event log.
    ids = log_ids(page)
    assert ids == sorted(set(ids)) and len(ids) > 20
    assert ids == history_ids(client, sid)[: len(ids)]
    wait_for(lambda: page.evaluate(TABLE_MATCHES_COUNTS))
    wait_for(lambda: shows_the_api_state(page, client, sid), interval=0.02)
    page.screenshot(path=artifact("dashboard-session.png"), full_page=True)

    # Drop every connection: the server dies and comes back on the same port.
    # The page's streams resume after the last event they saw, with no gap.
    before = log_ids(page)
    server.kill()
    server.start()
    restarted = page.locator('#log .entry[data-type="log:warn"]', has_text="server restarted")
    expect(restarted).to_have_count(1, timeout=15_000)
    wait_for(lambda: len(log_ids(page)) > len(before) + 3)
    ids = log_ids(page)
    assert ids[: len(before)] == before
    assert ids == sorted(set(ids))
    assert ids == history_ids(client, sid)[: len(ids)]
    assert page.get_attribute("#log", "data-duplicates") == "0"
    expect(page.locator("#live")).to_have_text("Live")

    # Server-side filters: only log events at warn or above.
    for box in page.locator("#log-filters input[name=type]").all():
        if box.get_attribute("value") != "log":
            box.uncheck()
    page.select_option("#log-level", "warn")
    expect(restarted).to_have_count(1)
    types = page.eval_on_selector_all("#log .entry", "els => els.map(e => e.dataset.type)")
    assert types and set(types) <= {"log:warn", "log:error"}, types

    # Stop from the page; the API confirms it.
    page.click("#btn-stop")
    expect(page.locator("#control-ok")).to_contain_text("Stop requested")
    wait_status(client, sid, "stopped")
    expect(page.locator("#session-status")).to_have_text("stopped")


def test_start_form_shows_server_validation_and_overview_lists_sessions(
    page: Any, make_server: ServerFactory, connect: Connect
) -> None:
    server = make_server("slow", LOKI_GEMINI_CMD="/nonexistent/gemini")
    client = connect(server)
    open_dashboard(page, server.url + "/")
    expect(page.locator("#health")).to_contain_text("Healthy")
    expect(page.locator('#providers li[data-available="false"]')).to_have_text(
        "gemini not available"
    )
    expect(page.locator("#start-provider option[value=gemini]")).to_contain_text("not found")
    expect(page.locator("#sessions-empty")).to_be_visible()
    assert page.evaluate(UNLABELLED) == []

    # A PRD path outside the project: the server's 422, next to the field, by keyboard alone.
    page.focus("#start-prd")
    page.keyboard.type("../../etc/passwd")
    page.keyboard.press("Enter")
    prd_error = page.locator("#start-prd-error")
    expect(prd_error).to_have_text("prdPath must be an existing file inside the project")
    expect(page.locator("#start-prd")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#start-error")).to_contain_text("422 VALIDATION_ERROR")
    assert page.evaluate("document.activeElement.id") == "start-prd"
    page.fill("#start-prd", "missing.md")
    expect(prd_error).to_be_hidden()  # editing the field clears its error
    page.click("#start-submit")
    expect(prd_error).to_have_text("prdPath must be an existing file inside the project")

    # A timeout the server refuses, and a provider whose CLI is missing (503).
    page.fill("#start-prd", "")
    page.fill("#start-timeout", "0")
    page.click("#start-submit")
    expect(page.locator("#start-timeout-error")).to_contain_text("options.timeout")
    page.fill("#start-timeout", "")
    page.select_option("#start-provider", "gemini")
    page.click("#start-submit")
    expect(page.locator("#start-provider-error")).to_contain_text("gemini CLI is not available")
    expect(page.locator("#start-error")).to_contain_text("503 PROVIDER_NOT_AVAILABLE")
    assert client.get("/api/sessions").json()["total"] == 0

    # A dry run needs no CLI: the plan from the PRD, paged and filtered.
    page.check("#start-dry")
    page.click("#start-submit")
    dry = session_id_of(page)
    expect(page.locator("#session-status")).to_have_text("completed")
    expect(page.locator("#tasks-range")).to_have_text(f"1{DASH}10 of 14")
    expect(page.locator("#tasks-body tr")).to_have_count(10)
    page.click("#tasks-next")
    expect(page.locator("#tasks-range")).to_have_text(f"11{DASH}14 of 14")
    expect(page.locator("#tasks-next")).to_be_disabled()
    page.select_option("#tasks-status", "skipped")
    expect(page.locator("#tasks-body tr")).to_have_count(1)
    expect(page.locator("#tasks-body tr")).to_contain_text("Iteration 1")
    page.select_option("#tasks-status", "pending")
    expect(page.locator("#tasks-range")).to_have_text(f"1{DASH}10 of 13")
    statuses = page.eval_on_selector_all("#tasks-body tr", "rs => rs.map(r => r.dataset.status)")
    assert set(statuses) == {"pending"}
    assert status_of(client, dry) == "completed"

    # A real run, then a second start in the same project: 409 with a way to the first.
    page.click("text=← All sessions")
    expect(page.locator("#overview-title")).to_be_focused()
    page.select_option("#start-provider", "claude")
    page.click("#start-submit")
    running = session_id_of(page)
    page.click("text=← All sessions")
    page.click("#start-submit")
    expect(page.locator("#start-error")).to_contain_text("409 SESSION_ALREADY_RUNNING")
    expect(page.locator("#start-error a")).to_have_attribute("href", f"#/sessions/{running}")

    # Newest first, with live status, phase and progress.
    rows = page.locator("#sessions-body tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-session-id", running)
    expect(rows.nth(1)).to_have_attribute("data-session-id", dry)
    expect(rows.nth(0).locator(".badge")).to_have_text("running")
    expect(rows.nth(0).locator('td[data-label="Phase"]')).not_to_have_text("—", timeout=15_000)
    expect(rows.nth(0).locator(".progress")).not_to_have_attribute("aria-valuenow", "0")
    expect(page.locator("#sessions-summary")).to_have_text("2 sessions · 1 active")
    # Tokens and cost arrive with the first iteration's result line.
    expect(rows.nth(0).locator('td[data-label="Cost"]')).not_to_have_text("$0.00", timeout=15_000)
    expect(page.locator("#stat-tokens")).not_to_have_text("0")
    page.screenshot(path=artifact("dashboard-overview.png"), full_page=True)

    # Phone width: nothing wider than the screen.
    page.set_viewport_size(PHONE)
    assert fits_width(page)
    page.screenshot(path=artifact("dashboard-overview-phone.png"), full_page=True)
    rows.nth(0).locator("a.session-link").click()
    expect(page.locator("#session-status")).to_have_text("running")
    expect(page.locator("#agents-body tr").first).to_be_visible()
    assert fits_width(page)
    page.screenshot(path=artifact("dashboard-session-phone.png"), full_page=True)
    client.post(f"/api/sessions/{running}/stop")
    wait_status(client, running, "stopped")


def test_controls_input_and_questions_work_from_the_page(
    page: Any, make_server: ServerFactory, connect: Connect
) -> None:
    server = make_server("ask,hang")  # asks a question, then works until stopped
    client = connect(server)
    sid = client.post("/api/sessions", json={}).json()["sessionId"]
    open_dashboard(page, f"{server.url}/#/sessions/{sid}")

    # The question comes to the top, with the input box focused.
    question = page.locator("#question")
    expect(question).to_be_visible()
    expect(page.locator("#question-text")).to_have_text("Which database should I use?")
    expect(page.locator("#question-slot #input-text")).to_be_focused()

    ok, error = page.locator("#control-ok"), page.locator("#control-error")
    page.click("#btn-pause")
    wait_status(client, sid, "paused")
    expect(page.locator("#session-status")).to_have_text("paused")
    page.click("#btn-pause")
    expect(error).to_have_text(
        "Pause refused: Cannot pause a session that is paused (409 CONFLICT)"
    )
    page.click("#btn-resume")
    expect(ok).to_have_text("Resume requested.")
    expect(error).to_be_hidden()
    wait_status(client, sid, "running")
    expect(page.locator("#session-status")).to_have_text("running")
    page.click("#btn-resume")
    expect(error).to_contain_text("Cannot resume a session that is running (409 CONFLICT)")

    # The answer, sent by keyboard, is shown as consumed once the agent took it.
    page.focus("#question-slot #input-text")
    page.keyboard.type("Use PostgreSQL.")
    page.keyboard.press("Control+Enter")
    sent = page.locator("#inputs li")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("Use PostgreSQL.")
    expect(question).to_be_hidden()
    expect(sent).to_have_attribute("data-state", "consumed")
    expect(sent).to_contain_text("Consumed by the agent in iteration 2")
    prompt = wait_for(lambda: _read(server.project / ".fake-prompts" / "prompt-2.txt"))
    assert "Use PostgreSQL." in prompt

    # Delete while running: the server's conflict is shown, nothing is deleted.
    page.click("#btn-delete")
    page.click("#confirm-yes")
    expect(error).to_contain_text("stop it first (409 CONFLICT)")
    assert status_of(client, sid) == "running"

    page.click("#btn-stop")
    wait_status(client, sid, "stopped")
    expect(page.locator("#session-status")).to_have_text("stopped")
    expect(page.locator("#meta-reason")).to_have_text("Ended: stop requested")
    page.fill("#input-text", "too late")
    page.click("#input-send")
    expect(page.locator("#input-error")).to_contain_text("409 CONFLICT")

    page.click("#btn-delete")
    page.click("#confirm-yes")
    expect(page.locator("#flash")).to_contain_text("deleted")
    expect(page.locator("#overview-title")).to_be_visible()
    assert client.get(f"/api/sessions/{sid}").status_code == 404


def test_a_remote_browser_signs_in_once_and_never_puts_the_token_in_a_url(
    page: Any, make_server: ServerFactory, connect: Connect
) -> None:
    address = lan_address()
    if address is None:
        pytest.skip("no non-loopback IPv4 address to serve a remote browser on")
    token = secrets.token_urlsafe(24)
    server = make_server("success", host=address, LOKI_API_TOKEN=token)
    requests: list[tuple[str, str, dict[str, str]]] = []
    page.on("request", lambda r: requests.append((r.url, r.resource_type, r.headers)))
    page.goto(server.url + "/")

    dialog = page.locator("#auth-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#auth-token")).to_be_focused()
    page.fill("#auth-token", "not-the-token")
    page.click("#auth-submit")
    expect(page.locator("#auth-error")).to_contain_text("not accepted")
    page.fill("#auth-token", token)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#sessions-summary")).to_have_text("0 sessions · 0 active")
    assert page.evaluate("sessionStorage.getItem('loki.token')") == token
    assert page.evaluate("localStorage.length") == 0
    cookies = {c["name"]: c for c in page.context.cookies(server.url)}
    assert cookies["loki_token"]["httpOnly"] and cookies["loki_token"]["sameSite"] == "Strict"

    # Fetches carry the Bearer token; the event stream rides on the cookie.
    page.check("#start-dry")
    page.click("#start-submit")
    session_id_of(page)
    expect(page.locator("#session-status")).to_have_text("completed")
    expect(page.locator('#log .entry[data-type="session:completed"]')).to_have_count(1)
    page.reload()
    page.wait_for_selector("html[data-ready]")
    expect(page.locator('#log .entry[data-type="session:completed"]')).to_have_count(1)
    expect(dialog).to_be_hidden()  # asked once per tab, not per page load

    assert not [url for url, _, _ in requests if token in url]
    api_fetches = [
        (url, headers)
        for url, kind, headers in requests
        if kind == "fetch" and "/api/" in url and not url.endswith("/api/auth")
    ]
    assert api_fetches
    after_sign_in = api_fetches[
        [h.get("authorization") for _, h in api_fetches].index(f"Bearer {token}") :
    ]
    assert all(h.get("authorization") == f"Bearer {token}" for _, h in after_sign_in)
    assert any(kind == "eventsource" for _, kind, _ in requests)
    assert token not in server.log()


def test_the_page_is_self_contained_under_a_strict_policy(
    make_server: ServerFactory, connect: Connect
) -> None:
    """No CDN and no build: every asset and module import is served from /static."""
    client = connect(make_server("success"))
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'"):
        assert directive in policy
    assert not re.search(r"https?://", page.text)
    pending = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        asset = client.get(path)
        assert asset.status_code == 200, path
        assert asset.headers["x-content-type-options"] == "nosniff"
        if path.endswith(".js"):
            assert asset.headers["content-type"].startswith("text/javascript"), path
            assert not re.search(r"https?://", asset.text), path
            for module in re.findall(r"from '\./([\w-]+\.js)'", asset.text):
                pending.append(f"/static/{module}")
    assert {"/static/app.js", "/static/session.js", "/static/stream.js"} <= seen


def _read(path: Any) -> str:
    return str(path.read_text()) if path.exists() else ""
