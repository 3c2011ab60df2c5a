"""The client's address, as rate limits count it.

The TCP peer is the client, unless the peer is a trusted proxy (`TRUSTED_PROXIES`, a
comma-separated list of CIDRs; empty: trust nobody). Then the client is the first address
of `X-Forwarded-For`, read from the right, that is not itself a trusted proxy: each proxy
appends the address it received the request from, so the hops to the right of the
client's are written by proxies we trust and anything to the left is what the client
chose to send. A header from an untrusted peer is ignored whatever it says.

uvicorn must not rewrite the peer itself (`--no-proxy-headers`, as core/launcher.py starts
it): under `--forwarded-allow-ips=*` it would believe any header from anyone.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from litestar.connection import ASGIConnection

from core.config import SettingsError, get_settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "unknown"
# Rate limits count an IPv6 client by its /64: one host usually has the whole prefix.
IPV6_PREFIX = 64


@functools.cache
def trusted_networks(spec: str) -> tuple[IPNetwork, ...]:
    """The networks of `TRUSTED_PROXIES`; SettingsError names a part that is not a CIDR."""
    networks = []
    for part in spec.split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                msg = f"TRUSTED_PROXIES: {part.strip()!r} is not an address or CIDR"
                raise SettingsError(msg) from None
    return tuple(networks)


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> IPAddress | None:
    """The address in `text`, or None. Cached: the order route reads the peer twice per
    request (its client, then its limit subject), and a proxy or a NAT sends many."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_address_of(peer: str | None, forwarded_for: list[str], networks: tuple[IPNetwork, ...]) -> str:
    """The client of a request from `peer` carrying these `X-Forwarded-For` headers."""
    peer_address = _parse(peer) if peer else None
    if peer_address is None:
        return peer or UNKNOWN
    if not networks or not _is_trusted(peer_address, networks):
        return str(peer_address)
    client = peer_address
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:  # not an address: nothing left of it can be believed
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address of the client that sent this request (see the module's docstring)."""
    peer = connection.client.host if connection.client else None
    networks = trusted_networks(get_settings().trusted_proxies)
    forwarded = connection.headers.getall("x-forwarded-for", []) if networks else []
    return client_address_of(peer, forwarded, networks)


def limit_subject(address: str) -> str:
    """What a per-address limit counts: the address, or an IPv6 client's /64."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return address
