"""`make run`'s embedded Redis keeps an append-only file synced every second."""

from __future__ import annotations

from pathlib import Path

from redis import Redis

from core import embedded


def test_the_embedded_redis_writes_an_aof_synced_every_second(tmp_path: Path) -> None:
    url = embedded.start_redis(tmp_path)
    server = embedded._keep.pop()  # stopped at the end of this test, not of the session
    try:
        client = Redis(unix_socket_path=url.removeprefix("unix://"))
        client.set("k", "v")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        client.close()
        assert any(p.name.startswith("appendonly") for p in tmp_path.rglob("*"))
    finally:
        server.shutdown(nosave=True)  # its own client: the server stops with this test


def test_the_chaos_tests_find_a_redis_server_binary() -> None:
    found = embedded.redis_server_binary()
    assert found is not None and Path(found).exists()
