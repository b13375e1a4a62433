"""Where Crier's own outgoing requests may go: a guard for any URL a workspace typed in.

Provider accounts (providers/hosts.py) and webhook endpoints (webhooks/delivery.py) both send
requests to addresses their users chose. Whatever was saved, ``GuardedTransport`` resolves the
host as it connects and refuses loopback, private, link-local, shared and metadata addresses
(unless the operator trusts the host), then connects to the very address it checked, so a DNS
answer that changes between the check and the connection (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def host_port(url: httpx.URL) -> str:
    host = url.host.rstrip(".").lower()
    host = f"[{host}]" if ":" in host else host  # IPv6, written as in a URL
    return f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def matches(url: httpx.URL, patterns: list[str] | tuple[str, ...]) -> bool:
    """``host`` or ``host:port`` (443 when left out); ``*.example.com`` is any subdomain."""
    here = host_port(url)
    for pattern in patterns:
        pattern = pattern.strip().lower().rstrip(".")
        if pattern and ":" not in pattern.removeprefix("[").rpartition("]")[2]:
            pattern += ":443"
        if pattern.startswith("*.") and here.endswith(pattern[1:]) and here != pattern[2:]:
            return True
        if here == pattern:
            return True
    return False


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as one stands for, in every spelling the C resolver takes:
    ``[::1]``, ``::ffff:127.0.0.1``, ``2130706433`` (decimal), ``0177.0.0.1`` (octal)."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_public(address: IPAddress) -> bool:
    """A globally routed unicast address: not loopback, private, link-local (cloud metadata's
    169.254.169.254), shared (100.64/10), multicast, reserved or unspecified, nor an IPv6 form
    that carries such an IPv4 address (mapped, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


def looks_inward(url: httpx.URL) -> bool:
    """The host is written as a local name or a non-public address: refused when saved, before
    the connection would refuse it anyway."""
    address = literal_address(url.host)
    local_name = url.host == "localhost" or url.host.endswith(".localhost")
    return local_name or (address is not None and not is_public(address))


class Refused(httpcore.ConnectError):
    """The address is not one Crier may reach; httpx reports it as a ConnectError."""


def public_address(host: str, port: int) -> str:
    """The first address ``host`` resolves to, when every address it resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses or not all(map(is_public, addresses)):
        raise Refused(f"{host} resolves to a non-public address ({', '.join(map(str, addresses))})")
    return str(addresses[0])


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Connects to the address it checked, never to what a second look-up might say."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = public_address(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings of every guarded transport, as httpx makes them by default (the CA
    bundle, verified). Made once a process: reading the bundle takes tens of milliseconds, and
    the send engine makes a client for every batch. Shared safely: httpcore only sets the
    same HTTP/1.1 ALPN on it as each connection opens."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.BaseTransport):
    """Sends a request over https to a public address only, unless ``trusted(url)`` says the
    operator vouched for its host (then any address, and http too).

    TLS still names and verifies the host, since httpcore passes the original host for SNI;
    only the TCP connection goes to the checked address.
    """

    def __init__(self):
        self._public = httpx.HTTPTransport(verify=tls_context())
        # httpx takes no network backend; its pool is rebuilt with one (tests/security/
        # test_ssrf.py proves the check runs, so an httpx upgrade that breaks this shows).
        self._public._pool = httpcore.ConnectionPool(
            ssl_context=tls_context(), network_backend=_PublicOnlyBackend()
        )
        self._trusted = httpx.HTTPTransport(verify=tls_context())

    def trusted(self, url: httpx.URL) -> bool:
        return False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.trusted(request.url):
            return self._trusted.handle_request(request)
        if request.url.scheme != "https":
            raise httpx.ConnectError(f"not https: {request.url.scheme}", request=request)
        return self._public.handle_request(request)

    def close(self) -> None:
        self._public.close()
        self._trusted.close()
