"""docker-compose.sentinel.yml (Redis with a replica and Sentinel), checked by reading it
and by running the sentinels' own start-up line; tests/chaos/test_redis_faults.py fails a
primary over under a running sale with the same settings."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from core.redis import sentinel_addresses
from tests.unit.deploy.compose_files import ROOT, memory_bytes, services

OVERRIDE = ROOT / "docker-compose.sentinel.yml"


def override() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = yaml.safe_load(OVERRIDE.read_text())["services"]
    return data


def sentinel_script(svc: dict[str, Any]) -> str:
    assert svc["entrypoint"] == ["sh", "-c"]
    (script,) = svc["command"]
    return str(script)


def test_the_clients_ask_every_sentinel_of_the_file_for_the_primary() -> None:
    svcs = override()
    sentinels = sorted(n for n in svcs if n.startswith("sentinel"))
    assert len(sentinels) == 3
    for name in ("api1", "api2", "worker", "migrate"):
        assert name in services(), name  # only services the base file has are extended
        env = svcs[name]["environment"]
        assert sorted(h for h, _ in sentinel_addresses(env["REDIS_SENTINELS"])) == sentinels
        assert {p for _, p in sentinel_addresses(env["REDIS_SENTINELS"])} == {26379}
        assert env["REDIS_SENTINEL_MASTER"] == "mymaster"


def test_the_replica_follows_the_primary_with_its_persistence_and_limits() -> None:
    replica, primary = override()["redis-replica"], services()["redis"]
    cmd = [str(c) for c in replica["command"]]
    assert cmd[cmd.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    assert cmd[: cmd.index("--replicaof")] == [str(c) for c in primary["command"]]
    limit = replica["deploy"]["resources"]["limits"]["memory"]
    assert limit == primary["deploy"]["resources"]["limits"]["memory"]
    assert memory_bytes(cmd[cmd.index("--maxmemory") + 1]) <= memory_bytes(limit) * 3 // 4


def test_the_sentinels_write_their_file_once_with_a_quorum_of_two(tmp_path: Path) -> None:
    script = sentinel_script(override()["sentinel1"])
    setup, _, start = script.partition("exec ")
    assert start.split() == ["redis-server", "/data/sentinel.conf", "--sentinel"]
    conf = tmp_path / "sentinel.conf"
    run = setup.replace("/data/", f"{tmp_path}/")
    subprocess.run(["sh", "-c", run], check=True)
    lines = conf.read_text().splitlines()
    assert "sentinel monitor mymaster redis 6379 2" in lines
    assert "sentinel resolve-hostnames yes" in lines
    down_after = next(
        int(m[1]) for ln in lines if (m := re.match(r"sentinel down-after-milliseconds mymaster (\d+)", ln))
    )
    assert down_after <= 5000
    conf.write_text("learned state\n")  # a restart keeps what the sentinel rewrote
    subprocess.run(["sh", "-c", run], check=True)
    assert conf.read_text() == "learned state\n"
