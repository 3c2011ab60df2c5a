"""The race guards are all on unless a test switches one off, and `without_guard` knows
every one of them."""

from __future__ import annotations

import dataclasses

from tests.concurrency.conftest import OWNERS


def test_every_guard_is_on_and_known() -> None:
    owners = {id(g): g for g in OWNERS.values()}.values()
    fields = {f.name for g in owners for f in dataclasses.fields(g)}
    assert fields == set(OWNERS)
    assert all(getattr(OWNERS[name], name) is True for name in OWNERS)
