"""A real non-loopback HTTP client for the security tests.

Preferred: a network namespace joined to this one by a veth pair, with a /30 of
10.203.0.0/16 of our own. The server binds the root-namespace end; the client
runs inside the namespace (`ip netns exec`), so the server's socket peer is a
genuinely remote address. Where namespaces are not permitted (no `ip`, no
CAP_SYS_ADMIN), the fallback binds the server on a non-loopback address this
machine already has and connects from that same address (`source_address`),
which the server also sees as a non-loopback peer.

Each request batch runs in a short-lived stdlib-only Python subprocess, so the
namespace case and the fallback share one code path.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest

SUBNET = ipaddress.ip_network("10.203.0.0/16")

# Runs in the client's namespace: a JSON list of requests on stdin, a JSON list of replies out.
CLIENT_SCRIPT = r"""
import http.client, json, sys
spec = json.load(sys.stdin)
source = (spec["source"], 0) if spec["source"] else None
out = []
for req in spec["requests"]:
    conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=10, source_address=source)
    body = req.get("body")
    conn.request(req["method"], req["path"], body=body.encode() if body is not None else None,
                 headers=req.get("headers") or {})
    local = conn.sock.getsockname()[0]  # the peer address the server sees
    resp = conn.getresponse()
    out.append({"status": resp.status, "headers": [[k.lower(), v] for k, v in resp.getheaders()],
                "body": resp.read().decode("utf-8", "replace"), "from": local})
    conn.close()
json.dump(out, sys.stdout)
"""


class Unavailable(Exception):
    """This kind of remote client cannot be made on this machine."""


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: str
    source: str  # the address the request left from

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RemoteClient:
    """Where the server must bind (`server_host`) and how to reach it from elsewhere."""

    mode: str  # "netns" or "address"
    server_host: str
    source: str | None  # bind the client to this address (fallback mode)
    prefix: list[str] = field(default_factory=list)  # e.g. ["ip", "netns", "exec", NS]

    def requests(self, port: int, requests: list[dict[str, object]]) -> list[Reply]:
        spec = {
            "host": self.server_host,
            "port": port,
            "source": self.source,
            "requests": requests,
        }
        done = subprocess.run(
            [*self.prefix, sys.executable, "-I", "-c", CLIENT_SCRIPT],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"remote client failed ({self.mode}): {done.stderr[-2000:]}")
        return [
            Reply(r["status"], [tuple(h) for h in r["headers"]], r["body"], r["from"])
            for r in json.loads(done.stdout)
        ]

    def get(self, port: int, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.requests(port, [{"method": "GET", "path": path, "headers": headers}])[0]


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)


def _must(*args: str) -> None:
    done = _ip(*args)
    if done.returncode != 0:
        raise Unavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


def _addresses_in_use() -> set[ipaddress.IPv4Address]:
    done = _ip("-4", "-o", "addr", "show")
    found = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            found.add(ipaddress.IPv4Interface(parts[parts.index("inet") + 1]).ip)
    return found


@contextmanager
def namespace_client() -> Iterator[RemoteClient]:
    """A namespace with one end of a veth pair; the other end stays here. Removed on exit."""
    if shutil.which("ip") is None:
        raise Unavailable("the `ip` command (iproute2) is not installed")
    tag = secrets.token_hex(3)
    ns, host_if, ns_if = f"loki-test-{tag}", f"lk{tag}h", f"lk{tag}n"
    _must("netns", "add", ns)
    try:
        _must("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        try:
            _must("link", "set", ns_if, "netns", ns)
            in_use = _addresses_in_use()
            for _ in range(20):  # a /30 nobody on this machine uses
                block = secrets.randbelow(SUBNET.num_addresses // 4) * 4
                here = SUBNET.network_address + block + 1
                there = here + 1
                if here not in in_use and there not in in_use:
                    break
            else:
                raise Unavailable("no free /30 in 10.203.0.0/16")
            _must("addr", "add", f"{here}/30", "dev", host_if)
            _must("link", "set", host_if, "up")
            _must("-n", ns, "addr", "add", f"{there}/30", "dev", ns_if)
            _must("-n", ns, "link", "set", ns_if, "up")
            _must("-n", ns, "link", "set", "lo", "up")
            yield RemoteClient("netns", str(here), None, ["ip", "netns", "exec", ns])
        finally:
            _ip("link", "del", host_if)  # takes its peer with it
    finally:
        _ip("netns", "del", ns)


def _local_address() -> str:
    """A non-loopback IPv4 address of this machine that a socket can bind."""
    candidates: list[str] = []
    if shutil.which("ip"):
        candidates += [str(a) for a in sorted(_addresses_in_use()) if not a.is_loopback]
    with suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    with suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("198.51.100.1", 9))  # picks the outgoing address; sends nothing
        candidates.append(probe.getsockname()[0])
    for addr in candidates:
        if ipaddress.ip_address(addr).is_loopback or ipaddress.ip_address(addr) in SUBNET:
            continue
        try:
            with socket.socket() as s:
                s.bind((addr, 0))
        except OSError:
            continue
        return addr
    raise Unavailable("this machine has no bindable non-loopback IPv4 address")


@contextmanager
def address_client() -> Iterator[RemoteClient]:
    addr = _local_address()
    yield RemoteClient("address", addr, addr)


@contextmanager
def remote_client(prefer: str = "netns") -> Iterator[RemoteClient]:
    """A non-loopback client: a namespace if allowed (and preferred), else a local address.

    Skips when neither can be made, except under CI (`CI=true`), where that fails.
    """
    makers = [namespace_client, address_client] if prefer == "netns" else [address_client]
    reasons: list[str] = []
    with ExitStack() as stack:
        for make in makers:
            try:
                client = stack.enter_context(make())
            except Unavailable as exc:
                reasons.append(str(exc))
                continue
            yield client
            return
        message = "no non-loopback client possible: " + "; ".join(reasons)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
