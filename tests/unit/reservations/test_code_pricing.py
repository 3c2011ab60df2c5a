"""The pricing rule of codes (docs/codes.md): per ticket of the code's type, after half
price; percent rounded down; never below 0. And the code text rule."""

from __future__ import annotations

import uuid

import pytest

from core.errors import BadRequest
from reservations.codes.schemas import normal_code
from reservations.codes.service import Rule, discounted
from reservations.holds.schemas import HeldTicket


def ticket(price: int, section: str | None = None, half: bool = False) -> HeldTicket:
    return HeldTicket(
        id=uuid.uuid4(), section=section, row=None, number=None, price_cents=price, half_price=half
    )


def rule(
    *, percent: int | None = None, amount: int | None = None, kind: str = "discount", type_: str | None = None
) -> Rule:
    return Rule(code="X", kind=kind, percent_off=percent, amount_off_cents=amount, ticket_type=type_)


def test_percent_is_rounded_down_per_ticket() -> None:
    tickets, off = discounted([ticket(999), ticket(2500, half=True)], rule(percent=15))
    assert [t.price_cents for t in tickets] == [999 - 149, 2500 - 375]
    assert off == 149 + 375


def test_hundred_percent_and_large_amounts_end_at_zero() -> None:
    assert discounted([ticket(4000)], rule(percent=100))[1] == 4000
    tickets, off = discounted([ticket(300), ticket(5000)], rule(amount=1000))
    assert [t.price_cents for t in tickets] == [0, 4000] and off == 1300


def test_only_the_codes_type_is_discounted() -> None:
    tickets, off = discounted(
        [ticket(4000, "Pista"), ticket(9000, "VIP"), ticket(100)], rule(amount=500, type_="VIP")
    )
    assert [t.price_cents for t in tickets] == [4000, 8500, 100] and off == 500


def test_access_codes_discount_nothing() -> None:
    tickets, off = discounted([ticket(4000)], rule(kind="access"))
    assert off == 0 and tickets[0].price_cents == 4000


@pytest.mark.parametrize(
    ("text", "stored"), [("summer-10", "SUMMER-10"), ("  Vip_2026 ", "VIP_2026"), ("abc", "ABC")]
)
def test_codes_ignore_case_and_surrounding_spaces(text: str, stored: str) -> None:
    assert normal_code(text) == stored


@pytest.mark.parametrize("text", ["ab", "a" * 33, "has space", "\u00df\u00df\u00df", "caf\u00e9", "A;B", ""])
def test_other_code_texts_are_refused(text: str) -> None:
    with pytest.raises(BadRequest) as refused:
        normal_code(text)
    assert refused.value.field == "code"
