"""Customer tokens: verified once, remembered, and still refused once expired."""

from __future__ import annotations

import time
import uuid

import pytest

from core import auth
from core.errors import Unauthorized


def test_a_valid_token_names_its_customer() -> None:
    cid = uuid.uuid4()
    assert auth.principal_from_token(auth.issue_customer_token(cid)).customer_id == cid


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    token = auth.encode({"sub": str(uuid.uuid4()), "typ": "customer", "iat": now, "exp": now + 60})
    assert auth.principal_from_token(token).customer_id is not None  # verified and remembered
    monkeypatch.setattr(auth.time, "time", lambda: now + 61.0)
    with pytest.raises(Unauthorized):
        auth.principal_from_token(token)


def test_forged_and_foreign_tokens_are_refused_every_time() -> None:
    cid = uuid.uuid4()
    good = auth.issue_customer_token(cid)
    forged = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    admission = auth.encode({"sub": str(cid), "typ": "admission", "exp": int(time.time()) + 60})
    for _ in range(2):  # a refusal is never remembered as a success
        with pytest.raises(Unauthorized):
            auth.principal_from_token(forged)
        with pytest.raises(Unauthorized):
            auth.principal_from_token(admission)


def test_the_organizer_token_is_the_configured_one() -> None:
    settings = auth.get_settings()
    assert auth.principal_from_token(settings.admin_token).is_admin
