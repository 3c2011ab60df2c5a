"""`without_guard`: switch off one race guard in the real code for one test.

Each guard is a flag on the `GUARDS` object of the module that owns it, on by default;
a control test runs the same race as its guarded test with the flag off and asserts the
invariant breaks. monkeypatch puts the flag back after the test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reservations.checkin import service as checkin
from reservations.codes import service as codes
from reservations.inventory import service as inventory
from reservations.orders import service as orders
from reservations.refunds import service as refunds
from reservations.waitlist import offers
from waitingroom.service import admission, queue

OWNERS: dict[str, Any] = {
    "claim_skip_locked": inventory.GUARDS,
    "book_only_available": inventory.GUARDS,
    "seats_in_id_order": inventory.GUARDS,
    "allowance_upsert": inventory.GUARDS,
    "atomic_idempotency_claim": orders.GUARDS,
    "atomic_join": queue.GUARDS,
    "held_in_budget": admission.GUARDS,
    "check_in_once": checkin.GUARDS,
    "earliest_scan_wins": checkin.GUARDS,
    "refund_claim_once": refunds.GUARDS,
    "skip_waitlist_kept": inventory.GUARDS,
    "rounds_serialised": offers.GUARDS,
    "code_use_guarded": codes.GUARDS,
}


@pytest.fixture
def without_guard(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`without_guard("claim_skip_locked", ...)`: those guards are off until the test ends."""

    def switch_off(*names: str) -> None:
        for name in names:
            guards = OWNERS[name]
            assert getattr(guards, name) is True, f"{name} is already off"
            monkeypatch.setattr(guards, name, False)

    return switch_off
