"""Where an account may send its credentials: checked when the account is saved, and again when
every connection opens.

An account calls its provider's documented host (``ProviderAdapter.hosts()``), a host whoever
runs Crier listed in CRIER_PROVIDER_HOSTS, a host a superuser chose, or the built-in sandbox.
Only https, except the sandbox: ``/sandbox/<provider>`` on an origin this Crier serves itself
(CRIER_SANDBOX_ORIGINS, with SANDBOX on). Whatever was saved, ``GuardedTransport`` resolves the
host as it connects and refuses loopback, private, link-local, shared and metadata addresses
(unless the operator listed the host), then connects to the very address it checked, so a DNS
answer that changes between the check and the connection (DNS rebinding) gains nothing. The
guard itself is core/hosts.py, which webhook endpoints go through as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

from core import hosts

if TYPE_CHECKING:
    from providers.base import ProviderAdapter


def configured(url: httpx.URL) -> bool:
    """The operator listed this host in CRIER_PROVIDER_HOSTS."""
    return hosts.matches(url, settings.CRIER_PROVIDER_HOSTS)


def is_sandbox(url: str | httpx.URL, slug: str) -> bool:
    """``url`` is this provider's emulator on an origin this Crier serves itself."""
    url = httpx.URL(str(url))
    if not settings.SANDBOX or url.userinfo:
        return False
    origins = {_origin(httpx.URL(origin)) for origin in settings.CRIER_SANDBOX_ORIGINS}
    prefix = f"/sandbox/{slug}"
    return _origin(url) in origins and (url.path == prefix or url.path.startswith(prefix + "/"))


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{hosts.host_port(url)}"


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
    if not superuser and not hosts.matches(parsed, adapter_class.hosts()):
        raise ValidationError(
            f"An account calls {adapter_class.label} at {documented}. Leave this empty for "
            "that, or ask whoever runs this Crier to allow another host (CRIER_PROVIDER_HOSTS)."
        )
    if hosts.looks_inward(parsed):
        raise ValidationError(
            "That is a local or private network address; Crier sends no credentials there. "
            "If the provider really is on your network, list its host in CRIER_PROVIDER_HOSTS."
        )


def guarded_client(slug: str, **kwargs) -> httpx.Client:
    """The httpx client for one provider's requests, whoever makes them: the guard as its
    transport, redirects never followed (the credentials would go wherever they point), and no
    proxy from the environment between the guard and the provider."""
    return httpx.Client(
        transport=GuardedTransport(slug), follow_redirects=False, trust_env=False, **kwargs
    )


class GuardedTransport(hosts.GuardedTransport):
    """The transport of every provider request (``ProviderAdapter.http``), for one provider:
    its sandbox over http, a host the operator listed over https to any address, anything else
    over https to public addresses only (core.hosts)."""

    def __init__(self, slug: str):
        super().__init__()
        self.slug = slug

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if is_sandbox(request.url, self.slug):
            return self._trusted.handle_request(request)
        if request.url.scheme == "https" and configured(request.url):
            return self._trusted.handle_request(request)
        return super().handle_request(request)
