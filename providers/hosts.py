"""Where an account may send its credentials: checked when the account is saved, and again when
every connection opens.

An account calls its provider's documented host (``ProviderAdapter.hosts()``), a host whoever
runs Crier listed in CRIER_PROVIDER_HOSTS, a host a superuser chose, or the built-in sandbox.
Only https, except the sandbox: ``/sandbox/<provider>`` on an origin this Crier serves itself
(CRIER_SANDBOX_ORIGINS, with SANDBOX on). Whatever was saved, ``GuardedTransport`` resolves the
host as it connects and refuses loopback, private, link-local, shared and metadata addresses
(unless the operator listed the host), then connects to the very address it checked, so a DNS
answer that changes between the check and the connection (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from providers.base import ProviderAdapter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _host_port(url: httpx.URL) -> str:
    host = url.host.rstrip(".").lower()
    host = f"[{host}]" if ":" in host else host  # IPv6, written as in a URL
    return f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _matches(url: httpx.URL, patterns: list[str] | tuple[str, ...]) -> bool:
    """``host`` or ``host:port`` (443 when left out); ``*.example.com`` is any subdomain."""
    here = _host_port(url)
    for pattern in patterns:
        pattern = pattern.strip().lower().rstrip(".")
        if pattern and ":" not in pattern.removeprefix("[").rpartition("]")[2]:
            pattern += ":443"
        if pattern.startswith("*.") and here.endswith(pattern[1:]) and here != pattern[2:]:
            return True
        if here == pattern:
            return True
    return False


def configured(url: httpx.URL) -> bool:
    """The operator listed this host in CRIER_PROVIDER_HOSTS."""
    return _matches(url, settings.CRIER_PROVIDER_HOSTS)


def is_sandbox(url: str | httpx.URL, slug: str) -> bool:
    """``url`` is this provider's emulator on an origin this Crier serves itself."""
    url = httpx.URL(str(url))
    if not settings.SANDBOX or url.userinfo:
        return False
    origins = {_origin(httpx.URL(origin)) for origin in settings.CRIER_SANDBOX_ORIGINS}
    prefix = f"/sandbox/{slug}"
    return _origin(url) in origins and (url.path == prefix or url.path.startswith(prefix + "/"))


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{_host_port(url)}"


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


def check_base_url(url: str, adapter_class: type[ProviderAdapter], *, superuser: bool) -> None:
    """Raise ValidationError, in words the account form shows, unless an account of this
    provider may call ``url``. Blank means the documented host and is always fine."""
    if not url:
        return
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ValidationError("Enter a web address such as https://api.example.com.") from None
    # A query would swallow the path Crier appends (``…/?x=/api/balance``).
    if parsed.userinfo or parsed.query or parsed.fragment or "?" in url or "#" in url:
        raise ValidationError(
            "Give the address alone (https://host/path), without a user name, “?” or “#”."
        )
    if is_sandbox(parsed, adapter_class.slug):
        return
    if parsed.scheme != "https" or not parsed.host:
        raise ValidationError("Use an https:// address: the account's credentials travel there.")
    if configured(parsed):
        return
    documented = " or ".join(
        host.removesuffix(":443").replace("*.", "an address under ")
        for host in adapter_class.hosts()
    )
    if not superuser and not _matches(parsed, adapter_class.hosts()):
        raise ValidationError(
            f"An account calls {adapter_class.label} at {documented}. Leave this empty for "
            "that, or ask whoever runs this Crier to allow another host (CRIER_PROVIDER_HOSTS)."
        )
    address = literal_address(parsed.host)
    local_name = parsed.host == "localhost" or parsed.host.endswith(".localhost")
    if local_name or (address is not None and not is_public(address)):
        raise ValidationError(
            "That is a local or private network address; Crier sends no credentials there. "
            "If the provider really is on your network, list its host in CRIER_PROVIDER_HOSTS."
        )


class Refused(httpcore.ConnectError):
    """The address is not one an account may reach; httpx reports it as a ConnectError."""


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


def guarded_client(slug: str, **kwargs) -> httpx.Client:
    """The httpx client for one provider's requests, whoever makes them: the guard as its
    transport, redirects never followed (the credentials would go wherever they point), and no
    proxy from the environment between the guard and the provider."""
    return httpx.Client(
        transport=GuardedTransport(slug), follow_redirects=False, trust_env=False, **kwargs
    )


class GuardedTransport(httpx.BaseTransport):
    """The transport of every provider request (``ProviderAdapter.http``), for one provider.

    TLS still names and verifies the host, since httpcore passes the original host for SNI;
    only the TCP connection goes to the checked address.
    """

    def __init__(self, slug: str):
        self.slug = slug
        self._public = httpx.HTTPTransport()
        # httpx takes no network backend; its pool is rebuilt with one (tests/security/
        # test_ssrf.py proves the check runs, so an httpx upgrade that breaks this shows).
        self._public._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_PublicOnlyBackend()
        )
        self._trusted = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if is_sandbox(request.url, self.slug):
            return self._trusted.handle_request(request)
        if request.url.scheme != "https":
            raise httpx.ConnectError(f"not https: {request.url.scheme}", request=request)
        if configured(request.url):
            return self._trusted.handle_request(request)
        return self._public.handle_request(request)

    def close(self) -> None:
        self._public.close()
        self._trusted.close()
