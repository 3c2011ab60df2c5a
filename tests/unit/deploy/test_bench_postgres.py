"""`--postgres deployed` runs the benchmark's PostgreSQL as docker-compose.yml configures it."""

from __future__ import annotations

from pathlib import Path

from bench.deployed_postgres import DeployedPostgres, compose_settings


def test_the_settings_are_read_from_the_compose_file() -> None:
    settings = compose_settings()
    assert settings["shared_buffers"] == "64MB"
    assert settings["work_mem"] == "2MB"
    assert "max_connections" in settings


def test_every_setting_but_max_connections_is_taken(tmp_path: Path) -> None:
    server = DeployedPostgres(tmp_path / "pg", port=5999)
    assert server.settings() == {k: v for k, v in compose_settings().items() if k != "max_connections"}
    assert server.url.endswith(":5999/crowdpass_bench")
