"""The rules of an event's body that msgspec cannot express (`check_event`), each failure
a 400 naming the field, and the size of a section."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from core.errors import BadRequest
from core.schemas import check_instant
from reservations.customers.schemas import clean_text
from reservations.events.schemas import MAX_CAPACITY, EventCreate, SectionCreate
from reservations.events.types import check_type_terms


def section_capacity(section: SectionCreate) -> int:
    if section.capacity is not None:
        return section.capacity
    assert section.rows is not None and section.seats_per_row is not None
    return section.rows * section.seats_per_row


def check_event(data: EventCreate) -> EventCreate:
    """Rules msgspec cannot express; each failure is a 400 naming the field. Returns the
    body with its text trimmed and its instants in UTC."""
    starts_at = check_instant(data.starts_at, field="starts_at")
    sales_open_at = data.sales_open_at
    if sales_open_at is not None:
        sales_open_at = check_instant(sales_open_at, field="sales_open_at")
    if sales_open_at is not None and sales_open_at > starts_at:
        raise BadRequest("Sales must open before the event starts.", field="sales_open_at")
    if data.sections is None:
        if data.capacity is None:
            raise BadRequest("Give `capacity` (general admission) or `sections`.", field="capacity")
        if data.price_cents is None:
            raise BadRequest("A general-admission event needs `price_cents`.", field="price_cents")
        sections = None
    else:
        if data.capacity is not None:
            raise BadRequest("Give either `capacity` or `sections`, not both.", field="capacity")
        if data.price_cents is not None:
            raise BadRequest("With sections, each section carries its price.", field="price_cents")
        sections = _check_sections(data.sections, starts_at=starts_at)
    return EventCreate(
        name=clean_text(data.name, field="name"),
        venue=_clean_venue(data.venue),
        starts_at=starts_at,
        sales_open_at=sales_open_at,
        price_cents=data.price_cents,
        capacity=data.capacity,
        sections=sections,
        max_per_customer=data.max_per_customer,
        hold_ttl_s=data.hold_ttl_s,
        hold_extension_s=data.hold_extension_s,
        half_price=data.half_price,
        waiting_room=data.waiting_room,
    )


def _clean_venue(venue: str) -> str:
    if "\x00" in venue:
        raise BadRequest("Must not contain NUL characters.", field="venue")
    return venue.strip()


def _check_sections(sections: Sequence[SectionCreate], *, starts_at: dt.datetime) -> list[SectionCreate]:
    cleaned: list[SectionCreate] = []
    seen: set[str] = set()
    total = 0
    for i, s in enumerate(sections):
        at = f"sections[{i}]"
        name = clean_text(s.name, field=f"{at}.name")
        if name in seen:
            raise BadRequest(f"Section name {name!r} is used twice.", field=f"{at}.name")
        seen.add(name)
        if s.capacity is not None:
            if s.rows is not None or s.seats_per_row is not None:
                raise BadRequest("Give `capacity` or `rows` and `seats_per_row`, not both.", field=at)
        elif s.rows is None:
            raise BadRequest("Give `capacity` or `rows` and `seats_per_row`.", field=f"{at}.rows")
        elif s.seats_per_row is None:
            raise BadRequest("`rows` needs `seats_per_row`.", field=f"{at}.seats_per_row")
        section = check_type_terms(
            SectionCreate(
                name=name,
                price_cents=s.price_cents,
                capacity=s.capacity,
                rows=s.rows,
                seats_per_row=s.seats_per_row,
                sales_open_at=s.sales_open_at,
                sales_close_at=s.sales_close_at,
                max_per_customer=s.max_per_customer,
            ),
            at=at,
            starts_at=starts_at,
        )
        total += section_capacity(section)
        cleaned.append(section)
    if total > MAX_CAPACITY:
        raise BadRequest(f"At most {MAX_CAPACITY} tickets per event (got {total}).", field="sections")
    return cleaned
