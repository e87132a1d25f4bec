"""Where a webhook may send, and the one way it sends (SSRF: an admin must not reach the server's own network
through a webhook, nor read what answers there).

A URL's host is resolved and every address it resolves to must be public (or inside a network the operator
allowed): numeric spellings such as 0x7f000001, 2130706433 or 0177.0.0.1 are resolved like any name, so the
check sees the address they really are. The request then goes to the address that was checked, not to a fresh
resolution that DNS could point elsewhere; the URL's host is still sent as Host and as the TLS server name. No
redirect is followed and nothing but the status line of the answer is read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits, which the translator then connects to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(ValueError):
    """The URL may not be sent to; the message says why."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    # (family, socket address) pairs, every one checked; connections go to these and nowhere else.
    addresses: tuple[tuple[int, tuple[object, ...]], ...]


def check(url: str, allowed_networks: Sequence[Network] = ()) -> Destination:
    """The URL's destination, resolved now, if every address it resolves to may be reached."""
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as exc:
        raise Refused(f"not a usable URL: {exc}") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise Refused("must be an http:// or https:// URL")
    port = _DEFAULT_PORTS[parts.scheme] if explicit_port is None else explicit_port
    if not parts.hostname:
        raise Refused("must name a host")
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"the host {parts.hostname!r} does not resolve: {exc}") from exc
    addresses = tuple(dict.fromkeys((family, sockaddr) for family, _type, _proto, _name, sockaddr in found))
    if not addresses:
        raise Refused(f"the host {parts.hostname!r} does not resolve")
    for _family, sockaddr in addresses:
        address = ipaddress.ip_address(sockaddr[0])
        if not reachable(address, allowed_networks):
            raise Refused(f"the host {parts.hostname!r} is {address}, which is not a public address "
                          "(loopback, private, link-local, shared, multicast and reserved addresses are refused)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, parts.hostname, port, target, addresses)


def reachable(address: Address, allowed_networks: Sequence[Network] = ()) -> bool:
    embedded = _embedded_ipv4(address)
    if any(candidate in network for candidate in (address, embedded) if candidate is not None
           for network in allowed_networks):
        return True
    if embedded is not None:
        return reachable(embedded)
    # is_global leaves out loopback, private, link-local, unspecified, shared (100.64/10) and the like; multicast,
    # reserved and IPv6 site-local ranges count as "global" to it, but are no place for a webhook either.
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    return address.is_global and not (address.is_multicast or address.is_reserved or site_local)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), which is where it would lead."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None


def post(destination: Destination, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POSTs to the checked addresses; the answer's status code and reason. Its body is not read. (http.client
    follows no redirect and takes no proxy from the environment, which could reroute signed events.)"""
    connection_class = _PinnedHTTPSConnection if destination.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(destination, timeout)
    try:
        connection.request("POST", destination.target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.reason
    finally:
        connection.close()


def _connect(destination: Destination, timeout: float | None) -> socket.socket:
    """A connection to the first of the checked addresses that answers (else the last one's error)."""
    *others, last = destination.addresses
    for address in others:
        with suppress(OSError):
            return _open(address, timeout)
    return _open(last, timeout)


def _open(address: tuple[int, tuple[object, ...]], timeout: float | None) -> socket.socket:
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self.destination = destination

    def connect(self) -> None:
        self.sock = _connect(self.destination, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout, context=_tls())
        self.destination = destination

    def connect(self) -> None:
        self.sock = _tls().wrap_socket(_connect(self.destination, self.timeout), server_hostname=self.host)


@cache
def _tls() -> ssl.SSLContext:
    """Certificates checked against the system's CAs, for the URL's host name (not the address connected to)."""
    return ssl.create_default_context()
