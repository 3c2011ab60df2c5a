"""wrk, driven by the Lua scripts in bench/lua/.

Every script sends an exact number of requests (or runs for wrk's -d duration when the
count is 0); each thread prints BENCH-FINISHED when its share is answered, and then this
module interrupts wrk (SIGINT ends wrk's timer early; wrk then reports as usual) and reads
the BENCH-RESULT line. wrk's -d is the time budget: a run that exceeds it is cut there and
marked `complete: false`.

Rate = answered requests / (last answer - first request), from the scripts' own clocks.
Latencies are wrk's: from writing a request to reading its whole answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from bench.system import pinned

LUA = Path(__file__).resolve().parent / "lua"


@dataclass
class WrkResult:
    command: list[str]
    requests: int = 0
    seconds: float = 0.0
    rate: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    complete: bool = False
    first_s: float = 0.0  # epoch of the first request sent
    last_s: float = 0.0  # epoch of the last answer read

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")

    def figures(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
            "latency_ms": self.latency_ms,
            "complete": self.complete,
        }


def available() -> bool:
    return shutil.which("wrk") is not None


async def run_wrk(
    script: str,
    url: str,
    args: list[str],
    *,
    limit: int,
    threads: int = 1,
    connections: int = 64,
    budget_s: float = 600,
    core: int | None = 1,
    log: Path | None = None,
) -> WrkResult:
    """Run bench/lua/<script> against `url`; `args` follow the script's (limit, nthreads)."""
    cmd = pinned(
        core,
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, int(budget_s))}s", "--timeout", "30s",
            "-s", str(LUA / script), url, "--", str(limit), str(threads), *args,
        ],
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    finished = 0
    result_line = b""
    lines: list[bytes] = []
    interrupted = False
    try:
        while True:
            line = await proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith(b"BENCH-FINISHED"):
                finished += 1
                if limit > 0 and finished >= min(threads, limit) and not interrupted:
                    interrupted = True
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGINT)
            elif line.startswith(b"BENCH-RESULT "):
                result_line = line[len(b"BENCH-RESULT ") :]
        await proc.wait()
    finally:
        if proc.returncode is None:  # cancelled: never leave wrk running
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if log is not None:
        text = b" ".join(a.encode() for a in cmd) + b"\n" + b"".join(lines)
        await asyncio.to_thread(log.write_bytes, text)
    if not result_line:
        raise RuntimeError("wrk printed no result:\n" + b"".join(lines[-20:]).decode(errors="replace"))
    raw = msgspec.json.decode(result_line)
    first, last = raw["first_us"], raw["last_us"]
    seconds = (last - first) / 1e6 if last > first else raw["duration_us"] / 1e6
    answered = raw["received"]
    lat = raw["latency_us"]
    return WrkResult(
        command=cmd,
        requests=answered,
        seconds=seconds,
        rate=answered / seconds if seconds > 0 else 0.0,
        statuses={int(k): v for k, v in raw["statuses"].items()},
        errors=raw["errors"],
        latency_ms={k: round(v / 1000, 2) for k, v in lat.items()},
        complete=limit == 0 or finished >= min(threads, limit),
        first_s=first / 1e6,
        last_s=last / 1e6,
    )
