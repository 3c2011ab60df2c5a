"""Real processes for the order tests: the payments stub and orders workers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.ports import first_free_port

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(18400, 18500)


def _free_port() -> int:
    port = first_free_port(PORTS)
    if port is None:
        raise RuntimeError("no free port in 18400-18499")
    return port


@contextlib.contextmanager
def payments_stub(log_path: Path, *, latency_ms: int = 20) -> Iterator[str]:
    """The payments stub as a process; yields its base URL."""
    port = _free_port()
    env = os.environ | {"PAYMENTS_LATENCY_MS": str(latency_ms)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "payments_stub.app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the payments stub did not start")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


class WorkerProcess:
    """An orders worker, `python -m jobs orders`, as a process of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def consumer(self) -> str:
        """Its name in the stream's consumer group."""
        assert self.proc is not None
        return f"{socket.gethostname()}:{self.proc.pid}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobs", "orders"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
