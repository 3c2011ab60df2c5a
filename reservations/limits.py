"""Route guards limiting requests per client address (docs/security.md, "Rate limits").

They run before the body is read, so a refused request costs one Redis call. Limits that
need the body (logins per account) or the customer (orders) are checked in the services.
"""

from __future__ import annotations

from core.limits import per_address_guard

# Each sign-up costs an Argon2 hash (19 MiB, tens of ms).
limit_signups = per_address_guard(
    "signup-address",
    lambda s: s.signup_limit_per_address,
    lambda s: s.signup_window_s,
    detail="Too many sign-ups from this address",
)

# Waitlist joins: anyone may join with an address, so a script could fill a list.
limit_waitlist_joins = per_address_guard(
    "waitlist-address",
    lambda s: s.waitlist_limit_per_address,
    lambda s: s.waitlist_window_s,
    detail="Too many waitlist joins from this address",
)

# Events and their tickets, both faces (POST /api/events, POST /eventos): one counter.
limit_event_creation = per_address_guard(
    "event-address",
    lambda s: s.event_limit_per_address,
    lambda s: s.event_window_s,
    detail="Too many events created from this address",
)

# A buyer checking a code before holding (GET /api/events/{id}/codes/{code}/check): few per
# address, so codes cannot be guessed by trying them (docs/codes.md).
limit_code_checks = per_address_guard(
    "code-check-address",
    lambda s: s.code_check_limit_per_address,
    lambda s: s.code_check_window_s,
    detail="Too many code checks from this address",
)
