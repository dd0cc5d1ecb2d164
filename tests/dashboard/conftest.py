"""Browser fixtures: Debian's Chromium driven by Playwright (sync API), real servers.

One Chromium per module (a fresh user-data dir each time), one page per test.
Without /usr/bin/chromium the tests skip, unless CI=true, where they fail.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, LiveServer, fake_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Console noise a browser prints for responses the page handles itself (a 409
# shown to the user, a stream cut by a server restart): not page errors.
EXPECTED_CONSOLE = ("Failed to load resource", "net::ERR_")

PRD = "# Todo service\n\nA small service that stores todos.\n\n" + "".join(
    f"- [ ] Requirement {i:02d}\n" for i in range(1, 14)
)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
            color_scheme="light",
            locale="en-GB",
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A fresh tab; fails the test on any uncaught script error or unexpected console error."""
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    tab.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}")
            if msg.type == "error" and not msg.text.startswith(EXPECTED_CONSOLE)
            else None
        ),
    )
    try:
        yield tab
    finally:
        tab.close()
        browser_context.clear_cookies()
    assert not errors, errors


ServerFactory = Callable[..., LiveServer]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """`make_server(scenario, **env)`: a real server on a free port whose project has a PRD."""
    servers: list[LiveServer] = []

    def make(scenario: str, host: str = "127.0.0.1", **env: str) -> LiveServer:
        project = tmp_path / f"project-{len(servers)}"
        project.mkdir()
        (project / "PRD.md").write_text(PRD)
        (project / ".fake-scenario").write_text(scenario)
        server = LiveServer(project, fake_env(FAKE_LINE_DELAY="0.1", **env), host=host)
        servers.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def connect() -> Iterator[Callable[[LiveServer], httpx.Client]]:
    """`connect(server)`: an API client for the checks, closed at teardown."""
    clients: list[httpx.Client] = []

    def make(server: LiveServer) -> httpx.Client:
        clients.append(server.client())
        return clients[-1]

    try:
        yield make
    finally:
        for client in clients:
            client.close()


def lan_address() -> str | None:
    """A non-loopback IPv4 address of this machine that a server can bind, if any."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it picks a route
            address = str(probe.getsockname()[0])
        if ipaddress.ip_address(address).is_loopback:
            return None
        with socket.socket() as bind_check:
            bind_check.bind((address, 0))
        return address
    except OSError:
        return None


def artifact(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)
