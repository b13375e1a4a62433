"""Every dashboard route, found by walking the URL resolver, and how to fill in its object ids.

The isolation matrix (tests/workspaces/test_isolation.py) and the CSRF test
(tests/security/test_csrf.py) are generated from this list, so a new route is covered by both
without editing them. A route whose URL carries an object id needs a factory for that kwarg in
OBJECT_FACTORIES; a new kwarg name fails ``test_every_object_kwarg_has_a_factory`` until one is
added.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from workspaces.models import Invitation, Role


def _open_invitation(tenant) -> Invitation:
    invitation = tenant.workspace.invitations.open().first()
    if invitation is None:
        invitation, _ = Invitation.issue(
            workspace=tenant.workspace, email="invited@example.com", role=Role.VIEWER
        )
    return invitation


def _api_key(tenant):
    from api import keys

    key = tenant.workspace.api_keys.first()
    return key or keys.issue(tenant.workspace, None, "Matrix", ["read"])[0]


def _message(tenant):
    message = tenant.campaign.messages.order_by("pk").first()
    return message or tenant.campaign.messages.create(phone="+77011234567", country="KZ")


# kwarg name -> how to get an object of a tenant (tests/conftest.py::Tenant) for it.
OBJECT_FACTORIES = {
    "account_pk": lambda tenant: tenant.account.pk,
    "sender_pk": lambda tenant: tenant.sender.pk,
    "member_pk": lambda tenant: tenant.members[Role.OWNER].pk,
    "campaign_pk": lambda tenant: tenant.campaign.pk,
    "import_pk": lambda tenant: tenant.recipient_import.pk,
    "contact_import_pk": lambda tenant: tenant.contact_import.pk,
    "entry_pk": lambda tenant: tenant.stop_entry.pk,
    "rate_pk": lambda tenant: tenant.rate.pk,
    "contact_pk": lambda tenant: tenant.contact.pk,
    "template_pk": lambda tenant: tenant.template.pk,
    "invitation_pk": lambda tenant: _open_invitation(tenant).pk,
    "key_pk": lambda tenant: _api_key(tenant).pk,
    "message_pk": lambda tenant: _message(tenant).pk,
    "field_pk": lambda tenant: tenant.contact_field.pk,
    "list_pk": lambda tenant: tenant.contact_list.pk,
    "segment_pk": lambda tenant: tenant.segment.pk,
    "endpoint_pk": lambda tenant: tenant.endpoint.pk,
    "delivery_pk": lambda tenant: tenant.delivery.pk,
    # An invitation link's token belongs to no tenant: it is the permission itself.
    "token": lambda tenant: "no-such-invitation",
    # A password reset link's user, base64: it belongs to no tenant either.
    "uidb64": lambda tenant: "MQ",
}

# Routes outside the dashboard's tenancy: the admin (staff only), the provider sandbox (an API
# emulator with its own authentication), the public API (signed by keys, not sessions: its own
# matrices in tests/api/test_isolation.py walk ``api_routes``), the public favicon,
# authentication itself, and an invitation's link, which anyone holding it may open
# (tests/workspaces/test_invitations.py).
EXEMPT_PREFIXES = ("admin", "sandbox", "favicon.ico", "api/")
AUTH_NAMES = {
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "invitation",
    "invitation_sign_up",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "login_code",
    "two_factor",
    "two_factor_setup",
    "two_factor_codes",
    "two_factor_recovery",
    "two_factor_disable",
}


def walk(patterns=None, prefix="", namespace=""):
    """(route, name, namespace, URLPattern) for every URL pattern of the project."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name, namespace, p


def dashboard_routes(include_auth: bool = False) -> list[tuple[str, list[str]]]:
    """(url name, sorted kwarg names) of every route of the dashboard itself."""
    routes = []
    for route, name, namespace, pattern in walk():
        if namespace or route.startswith(EXEMPT_PREFIXES):
            continue
        if name in AUTH_NAMES and not include_auth:
            continue
        routes.append((name, sorted(pattern.pattern.converters)))
    return routes


def url_for(name: str, kwargs: list[str], tenant) -> str:
    return reverse(name, kwargs={k: OBJECT_FACTORIES[k](tenant) for k in kwargs})


def api_routes() -> list[tuple[str, list[str]]]:
    """(url name, sorted kwarg names) of every route of the public API under /api/v1/."""
    return [
        (name, sorted(pattern.pattern.converters))
        for route, name, namespace, pattern in walk()
        if route.startswith("api/v1/") and name != "api_problem"
    ]
