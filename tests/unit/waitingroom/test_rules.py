"""Pure rules of the waiting room: lottery, proof of work, ETA, tokens, keys, budget."""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
import pytest

from core.config import get_settings
from waitingroom import keys
from waitingroom.errors import AdmissionRequired, RateLimited
from waitingroom.service import lottery, proof
from waitingroom.service.admission import admission_limit, room_state
from waitingroom.service.eta import beyond_stock, eta_seconds
from waitingroom.service.tokens import decode_admission, encode_admission


def test_commitment_and_draw_are_plain_sha256_of_ascii() -> None:
    seed = "ab" * 32
    customer = uuid.UUID("00000000-0000-4000-8000-000000000001")
    assert lottery.commitment(seed) == hashlib.sha256(seed.encode()).hexdigest()
    assert lottery.draw(seed, customer) == hashlib.sha256(f"{seed}:{customer}".encode()).hexdigest()
    assert lottery.draw_score(seed, customer) == int(lottery.draw(seed, customer)[:13], 16)
    assert lottery.draw_score(seed, customer) < 2**52
    assert lottery.score_hex(float(lottery.draw_score(seed, customer))) == lottery.draw(seed, customer)[:13]


def test_lottery_order_is_a_permutation_fixed_by_the_seed() -> None:
    ids = [str(uuid.uuid4()) for _ in range(200)]
    seed_a, seed_b = lottery.new_seed(), lottery.new_seed()
    order_a = lottery.lottery_order(seed_a, ids)
    assert sorted(order_a) == sorted(ids)
    assert order_a == lottery.lottery_order(seed_a, list(reversed(ids)))
    assert order_a != lottery.lottery_order(seed_b, ids)
    assert order_a != ids  # 200! orders: the identity is (practically) never drawn


def test_proof_of_work_round_trip_and_refusals() -> None:
    secret, event, customer = "s" * 40, uuid.uuid4(), uuid.uuid4()
    now = int(time.time())
    challenge, expires = proof.issue(secret, event_id=event, customer_id=customer, difficulty=10, now_s=now)
    nonce = proof.solve(challenge, 10)
    digest = hashlib.sha256((challenge + nonce).encode()).digest()
    assert int.from_bytes(digest, "big") >> (256 - 10) == 0
    challenge_id, exp = proof.verify(
        secret,
        event_id=event,
        customer_id=customer,
        challenge=challenge,
        nonce=nonce,
        now_s=now,
        difficulty=10,
    )
    assert exp == expires and challenge_id == challenge.split(".")[2]
    refusals = [
        dict(customer_id=uuid.uuid4(), now_s=now, difficulty=10),  # another customer
        dict(customer_id=customer, now_s=expires, difficulty=10),  # expired
        dict(customer_id=customer, now_s=now, difficulty=12),  # difficulty went up
    ]
    for r in refusals:
        with pytest.raises(proof.InvalidProof):
            proof.verify(secret, event_id=event, challenge=challenge, nonce=nonce, **r)  # type: ignore[arg-type]
    forged = challenge.replace(".10.", ".1.")
    with pytest.raises(proof.InvalidProof):
        proof.verify(
            secret, event_id=event, customer_id=customer, challenge=forged, nonce="0", now_s=now, difficulty=1
        )


def test_leading_zero_bits() -> None:
    assert proof.leading_zero_bits(b"\x00\x00\x01") == 23
    assert proof.leading_zero_bits(b"\x80") == 0
    assert proof.leading_zero_bits(b"\x0f") == 4
    assert proof.leading_zero_bits(b"\x00\x00") == 16


def test_eta() -> None:
    now = 1_000_000
    common = dict(now_ms=now, open_at_ms=0, max_admit_per_s=10)
    assert eta_seconds(position=50, rate=10.0, state="open", **common) == 5  # type: ignore[arg-type]
    assert eta_seconds(position=51, rate=10.0, state="open", **common) == 6  # type: ignore[arg-type]
    assert eta_seconds(position=5, rate=0.0, state="open", **common) is None  # type: ignore[arg-type]
    assert eta_seconds(position=5, rate=3.0, state="paused", **common) is None  # type: ignore[arg-type]
    assert eta_seconds(position=5, rate=3.0, state="sold_out", **common) is None  # type: ignore[arg-type]
    before = dict(now_ms=now, open_at_ms=now + 60_000, max_admit_per_s=10)
    assert eta_seconds(position=25, rate=0.0, state="scheduled", **before) == 63  # type: ignore[arg-type]
    assert eta_seconds(position=None, rate=0.0, state="scheduled", **before) == 60  # type: ignore[arg-type]


def test_admission_limit_is_an_exact_floor() -> None:
    assert admission_limit(left=100, factor=0.29) == 29
    assert admission_limit(left=10, factor=0.7) == 7
    assert admission_limit(left=3, factor=1.0) == 3
    assert admission_limit(left=3, factor=1.5) == 4
    assert admission_limit(left=0, factor=2.0) == 0
    assert admission_limit(left=1, factor=0.6) == 1  # the last ticket is still offered
    assert admission_limit(left=2, factor=0.3) == 1


def test_room_state() -> None:
    base = dict(closed=False, scheduled=False, paused=False, available=3, held=0)
    assert room_state(**base) == "open"  # type: ignore[arg-type]
    assert room_state(**{**base, "paused": True}) == "paused"  # type: ignore[arg-type]
    assert room_state(**{**base, "available": 0, "held": 2}) == "open"  # type: ignore[arg-type]
    assert room_state(**{**base, "available": 0}) == "sold_out"  # type: ignore[arg-type]
    assert room_state(**{**base, "scheduled": True}) == "scheduled"  # type: ignore[arg-type]
    assert room_state(**{**base, "closed": True, "available": 0}) == "closed"  # type: ignore[arg-type]


def test_admission_token_codec() -> None:
    event, customer = uuid.uuid4(), uuid.uuid4()
    exp_ms = int(time.time() * 1000) + 60_000
    token = encode_admission(customer_id=customer, event_id=event, jti="7", expires_ms=exp_ms)
    assert token == encode_admission(customer_id=customer, event_id=event, jti="7", expires_ms=exp_ms)
    claims = decode_admission(token, event_id=event)
    assert (claims.customer_id, claims.jti, claims.expires_s) == (customer, "7", -(-exp_ms // 1000))

    with pytest.raises(AdmissionRequired):
        decode_admission(token, event_id=uuid.uuid4())  # another event
    expired = encode_admission(customer_id=customer, event_id=event, jti="7", expires_ms=exp_ms - 120_000)
    with pytest.raises(AdmissionRequired, match="expired"):
        decode_admission(expired, event_id=event)
    forged = jwt.encode(
        {"sub": str(customer), "aud": str(event), "jti": "7", "exp": exp_ms // 1000, "typ": "admission"},
        "not-the-secret-" * 3,
        algorithm="HS256",
    )
    with pytest.raises(AdmissionRequired):
        decode_admission(forged, event_id=event)
    customer_token = jwt.encode(
        {"sub": str(customer), "aud": str(event), "exp": exp_ms // 1000, "typ": "customer"},
        get_settings().jwt_secret,
        algorithm="HS256",
    )
    with pytest.raises(AdmissionRequired):
        decode_admission(customer_token, event_id=event)


def test_every_event_key_shares_the_hash_tag() -> None:
    event = uuid.uuid4()
    named = [*keys.event_keys(event), keys.pow_used(event, "x"), keys.join_rate_ip(event, "1.2.3.4")]
    named.append(keys.join_rate_customer(event, uuid.uuid4()))
    assert all(f"{{{event}}}" in k for k in named)
    assert len(set(named)) == len(named)


def test_rate_limited_rounds_retry_after_up() -> None:
    assert RateLimited(1).headers == {"Retry-After": "1"}
    assert RateLimited(2001).headers == {"Retry-After": "3"}


def test_beyond_stock_only_past_the_reach_of_an_open_room() -> None:
    assert beyond_stock(position=4, reach=3, state="open")
    assert not beyond_stock(position=3, reach=3, state="open")
    assert not beyond_stock(position=4, reach=-1, state="open")  # not measured yet
    assert not beyond_stock(position=4, reach=3, state="paused")
    assert not beyond_stock(position=None, reach=0, state="open")
