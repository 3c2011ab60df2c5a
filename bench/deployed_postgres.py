"""A PostgreSQL server for one benchmark run, configured as docker-compose.yml configures it.

The machine's own PostgreSQL keeps its packaged defaults (128 MB of shared buffers on
Debian), which the memory figure then counts; the deployment runs PostgreSQL with the
settings in docker-compose.yml (24 MB of shared buffers, small work memory). With
`--postgres deployed` the run starts a server of its own from the machine's PostgreSQL
binaries, in a fresh data folder under the results folder, with every `-c` setting of the
compose file's `postgres` command except `max_connections` (the benchmark's pools need up
to 63 connections; the compose file's 30 fit its smaller pools), and stops it afterwards.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
NOT_TAKEN = {"max_connections"}


def compose_settings(compose: Path = COMPOSE) -> dict[str, str]:
    """The `-c name=value` settings of the compose file's postgres command."""
    command: list[str] = yaml.safe_load(compose.read_text())["services"]["postgres"]["command"]
    settings = {}
    for flag, value in itertools.pairwise(command):
        if flag == "-c":
            name, _, setting = value.partition("=")
            settings[name] = setting
    return settings


def _bindir() -> Path:
    packaged = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))  # Debian keeps them off PATH
    found = shutil.which("initdb") or (packaged[-1] if packaged else None)
    if found is None:
        raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    return Path(found).parent


class DeployedPostgres:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.data = folder / "pgdata"
        self.port = port
        self.bindir = _bindir()
        # PostgreSQL refuses to run as root: then it runs as the `postgres` user.
        self._as: Sequence[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/crowdpass_bench"

    def settings(self) -> dict[str, str]:
        return {k: v for k, v in compose_settings().items() if k not in NOT_TAKEN}

    def _run(self, *args: str, check: bool = True) -> None:
        subprocess.run([*self._as, *args], check=check, capture_output=True)

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as:
            shutil.chown(self.folder, "postgres", "postgres")
        initdb = str(self.bindir / "initdb")
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = " ".join(
            [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.folder}"]
            + [f"-c {name}={value}" for name, value in self.settings().items()]
        )
        log = self.folder / "postgres.log"
        pg_ctl = str(self.bindir / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start")
        return self.url

    def stop(self) -> None:
        if self.data.exists():
            pg_ctl = str(self.bindir / "pg_ctl")
            self._run(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            shutil.rmtree(self.data, ignore_errors=True)
