"""Who the client is: the peer, or the X-Forwarded-For hop our trusted proxies wrote."""

from __future__ import annotations

import pytest

from core.addresses import client_address_of, limit_subject, trusted_networks
from core.config import SettingsError

PROXIES = trusted_networks("10.0.0.0/8,192.0.2.10")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # untrusted peer: the header is ignored
        ("10.1.2.3", [], "10.1.2.3"),  # a trusted peer without a header is the client
        ("10.1.2.3", ["198.51.100.7"], "198.51.100.7"),
        ("10.1.2.3", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),  # left of our hop: the client's say
        ("10.1.2.3", ["198.51.100.7, 192.0.2.10"], "198.51.100.7"),  # two trusted hops
        ("10.1.2.3", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),  # the header sent twice
        ("10.1.2.3", ["junk, 198.51.100.7"], "198.51.100.7"),
        ("10.1.2.3", ["198.51.100.7, junk"], "10.1.2.3"),  # a garbled hop: stop at the last good one
        ("10.1.2.3", ["10.9.9.9"], "10.9.9.9"),  # only proxies: the farthest one
        (None, ["1.2.3.4"], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], client: str) -> None:
    assert client_address_of(peer, forwarded, PROXIES) == client


def test_nobody_is_trusted_by_default() -> None:
    assert client_address_of("127.0.0.1", ["1.2.3.4"], trusted_networks("")) == "127.0.0.1"


def test_a_bad_trusted_proxies_value_names_itself() -> None:
    with pytest.raises(SettingsError, match="nginx"):
        trusted_networks("10.0.0.0/8,nginx")


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert limit_subject("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert limit_subject("::ffff:198.51.100.7") == "198.51.100.7"
    assert limit_subject("198.51.100.7") == "198.51.100.7"
