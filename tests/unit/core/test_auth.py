"""Customer tokens: verified on every use and refused once expired; the tokens we mint take a
short check, everything else goes through pyjwt."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from core import auth
from core.config import get_settings
from core.errors import Unauthorized


def test_a_valid_token_names_its_customer() -> None:
    cid = uuid.uuid4()
    assert auth.principal_from_token(auth.issue_customer_token(cid)).customer_id == cid


def test_a_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    token = auth.encode({"sub": str(uuid.uuid4()), "typ": "customer", "iat": now, "exp": now + 60})
    assert auth.principal_from_token(token).customer_id is not None
    monkeypatch.setattr(auth.time, "time", lambda: now + 61.0)
    with pytest.raises(Unauthorized):
        auth.principal_from_token(token)


def test_forged_and_foreign_tokens_are_refused_every_time() -> None:
    cid = uuid.uuid4()
    good = auth.issue_customer_token(cid)
    forged = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    admission = auth.encode({"sub": str(cid), "typ": "admission", "exp": int(time.time()) + 60})
    for _ in range(2):
        with pytest.raises(Unauthorized):
            auth.principal_from_token(forged)
        with pytest.raises(Unauthorized):
            auth.principal_from_token(admission)


def test_the_organizer_token_is_the_configured_one() -> None:
    settings = get_settings()
    assert auth.principal_from_token(settings.admin_token).is_admin


def _pyjwt_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(token: str, *, audience: str | None = None) -> dict[str, object]:
        raise AssertionError("pyjwt was asked")

    monkeypatch.setattr(auth, "decode", refuse)


def test_a_token_we_minted_is_verified_without_pyjwt(monkeypatch: pytest.MonkeyPatch) -> None:
    cid = uuid.uuid4()
    token = auth.issue_customer_token(cid)
    _pyjwt_must_not_run(monkeypatch)
    assert auth.principal_from_token(token).customer_id == cid


def _signed(
    claims: dict[str, object], *, secret: str | None = None, headers: dict[str, str] | None = None
) -> str:
    return jwt.encode(claims, secret or get_settings().jwt_secret, algorithm="HS256", headers=headers)


def test_the_short_check_refuses_what_pyjwt_refuses() -> None:
    now = int(time.time())
    cid = str(uuid.uuid4())
    ours = {"sub": cid, "typ": "customer", "iat": now, "exp": now + 60}
    refused = {
        "another secret": _signed(ours, secret="x" * 32),
        "expired": _signed({**ours, "iat": now - 120, "exp": now - 60}),
        "issued in the future": _signed({**ours, "iat": now + 3600, "exp": now + 7200}),
        "not valid before later (an extra claim)": _signed({**ours, "nbf": now + 3600}),
        "for an audience (an extra claim)": _signed({**ours, "aud": "someone-else"}),
        "alg none": jwt.encode(ours, None, algorithm="none"),
        "not a uuid": _signed({**ours, "sub": "nobody"}),
        "truncated signature": _signed(ours)[:-5],
        "not base64": _signed(ours)[:-3] + "*!*",
    }
    for why, token in refused.items():
        with pytest.raises(Unauthorized):
            auth.principal_from_token(token)
            pytest.fail(why)


def test_a_valid_token_with_another_shape_is_left_to_pyjwt(monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    cid = uuid.uuid4()
    claims = {"sub": str(cid), "typ": "customer", "iat": now, "exp": now + 60}
    tokens = [_signed({**claims, "scope": "x"}), _signed(claims, headers={"kid": "1"})]
    asked: list[str] = []
    real_decode = auth.decode

    def spy(token: str, *, audience: str | None = None) -> dict[str, object]:
        asked.append(token)
        return real_decode(token, audience=audience)

    monkeypatch.setattr(auth, "decode", spy)
    for token in tokens:
        assert auth.principal_from_token(token).customer_id == cid
    assert asked == tokens
