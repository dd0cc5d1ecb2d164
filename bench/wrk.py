"""Running wrk (a separate process) against 127.0.0.1 and reading its report."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(\w+)", re.MULTILINE)
_LATENCY = re.compile(r"^\s+Latency\s+([\d.]+)(\w+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class WrkResult:
    rate: float  # requests per second
    requests: int
    latency_avg: float  # seconds
    non_2xx: int
    socket_errors: int

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0


def available() -> bool:
    return shutil.which("wrk") is not None


def version() -> str:
    if not available():
        return "not installed"
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def parse(output: str) -> WrkResult:
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None:
        raise WrkError(f"cannot read wrk's report:\n{output[-1500:]}")
    latency = _LATENCY.search(output)
    non_2xx = _NON_2XX.search(output)
    sock = _SOCKET.search(output)
    return WrkResult(
        rate=float(rate.group(1)),
        requests=int(total.group(1)),
        latency_avg=float(latency.group(1)) * _UNITS.get(latency.group(2), 1.0) if latency else 0.0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )


def run(url: str, *, duration: float, connections: int = 50, threads: int = 1) -> WrkResult:
    """`wrk -t1 -c50 -dNs URL`, bounded in time; only loopback targets are allowed."""
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        raise WrkError(f"refusing to load a non-loopback address: {url}")
    seconds = max(1, round(duration))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", url]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    except FileNotFoundError as exc:
        raise WrkError("wrk is not installed (apt-get install wrk)") from exc
    if out.returncode != 0:
        raise WrkError(f"wrk exited with {out.returncode}: {out.stderr.strip()[-500:]}")
    return parse(out.stdout)
