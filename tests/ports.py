"""Free loopback ports for the processes the end-to-end tests start."""

from __future__ import annotations

import socket
from collections.abc import Container, Iterable


def first_free_port(ports: Iterable[int], *, taken: Container[int] = ()) -> int | None:
    """The first of `ports` not in `taken` that nothing listens on, or None."""
    for port in ports:
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return None


def any_free_port() -> int:
    """A loopback port the system has free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
