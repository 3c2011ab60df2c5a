"""The public feed of recent purchases."""

from __future__ import annotations

import datetime as dt
import uuid

from core.schemas import Out


class RecentPurchase(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    buyer: str  # first name and initial: "Maria S."
    at: dt.datetime
