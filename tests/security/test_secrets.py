"""Provider credentials never leave the encrypted field: not in logs, task arguments, pages,
error pages, exports or a dump of the database.

Accounts of every provider are created through the account form with credentials we know, and
used for real against the sandbox on the live server: test connection, sender import, the
periodic balance refresh, and failures (a provider down, a wrong key, a crash in the HTTP layer
with the development error page on). Everything Crier wrote along the way is then searched for
each plaintext secret.
"""

from __future__ import annotations

import io
import logging

import pytest
from celery.signals import task_prerun
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from crier.celery import app
from providers import registry
from providers.base import ProviderAdapter
from providers.models import ProviderAccount
from providers.sandbox.accounts import provision
from providers.sandbox.models import SandboxAccount
from providers.tasks import refresh_balances
from tests.conftest import PASSWORD
from workspaces.models import Role

PROVIDERS = ["bsg", "mobizon", "smsdrop", "conpeek"]
WRONG_KEY = "live_wrong_0123456789abcdef"


@pytest.fixture
def logs(caplog):
    """Every record at DEBUG, httpx and httpcore included (they log request lines there)."""
    for name in ["", "httpx", "httpcore", "django", "celery", "providers", "campaigns", "axes"]:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def task_calls():
    """(task name, args, kwargs) of every task run, eagerly, during the test."""
    calls = []

    def capture(sender=None, args=None, kwargs=None, **_):
        calls.append((sender.name, args, kwargs))

    task_prerun.connect(capture, weak=False)
    app.conf.task_always_eager = True
    yield calls
    app.conf.task_always_eager = False
    task_prerun.disconnect(capture)


@pytest.fixture
def admin(transactional_db, acme):
    client = Client(raise_request_exception=False)
    client.force_login(acme.user(Role.ADMIN))
    return client


@pytest.fixture
def accounts(live_server, admin):
    """slug -> (ProviderAccount added through the account form, its secret values)."""
    made = {}
    for slug in PROVIDERS:
        credentials = provision(slug, name=f"secrets-{slug}")
        sandbox_url = f"{live_server.url}/sandbox/{slug}"
        form = {f"cred_{name}": value or sandbox_url for name, value in credentials.items()}
        form |= {"provider": slug, "name": slug, "api_base_url": sandbox_url, "currency": "EUR"}
        response = admin.post(reverse("account_add"), form)
        assert response.status_code == 302, response.context["form"].errors
        secret_names = {f.name for f in registry.get(slug).credential_fields if f.secret}
        secrets = [credentials[name] for name in secret_names]
        made[slug] = (ProviderAccount.objects.get(name=slug), secrets)
    return made


def written_by_crier(records) -> list[str]:
    """Each record as a handler would write it, plus every attribute an error tracker would send.

    The sandbox's own request log is left out: it plays the provider's server, which is sent the
    key by design, and it does not exist in production.
    """
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return [
        formatter.format(record) + repr(record.__dict__)
        for record in records
        if not getattr(getattr(record, "request", None), "path", "").startswith("/sandbox/")
    ]


def use_every_account(admin, accounts, acme, settings, monkeypatch) -> dict[str, list[str]]:
    """Pages, fragments, error pages and exports served while using the accounts."""
    served = {"pages": [], "error pages": [], "exports": []}
    test = [reverse("account_test", args=[a.pk]) for a, _ in accounts.values()]
    htmx = {"HX-Request": "true"}

    # Normal use.
    served["pages"] += [admin.post(url, headers=htmx).text for url in test]
    for account, _ in accounts.values():
        for name in ["account_detail", "account_edit", "rate_list"]:
            served["pages"].append(admin.get(reverse(name, args=[account.pk])).text)
    bsg = accounts["bsg"][0]
    served["pages"].append(admin.post(reverse("account_import_senders", args=[bsg.pk])).text)
    for name in ["overview", "account_list", "sender_list", "audit_log"]:
        served["pages"].append(admin.get(reverse(name)).text)
    assert refresh_balances() == {"queued": 4}  # acme's own BSG, bsg, mobizon, smsdrop

    # The providers fail, then a wrong key is entered through the form.
    SandboxAccount.objects.filter(name__startswith="secrets-").update(error_burst=5)
    served["error pages"] += [admin.post(url, headers=htmx).text for url in test]
    edit = {"name": "bsg", "cred_api_key": WRONG_KEY, "currency": "EUR"}
    admin.post(reverse("account_edit", args=[bsg.pk]), edit | {"api_base_url": bsg.api_base_url})
    served["error pages"].append(admin.post(test[0], headers=htmx).text)
    refresh_balances()

    # A crash inside the HTTP layer, with development's technical error page on.
    def crash(self, method, url, **kwargs):
        raise RuntimeError("the network stack fell over")

    monkeypatch.setattr(ProviderAdapter, "_send", crash)
    settings.DEBUG = True
    served["error pages"] += [admin.post(url, headers=htmx).text for url in test]
    settings.DEBUG = False

    # Exports, and the Django admin's view of the accounts.
    rejections = reverse("import_rejections", args=[acme.recipient_import.pk])
    served["exports"].append(b"".join(admin.get(rejections).streaming_content).decode())
    staff = Client()
    staff.force_login(acme.user(Role.OWNER).__class__.objects.create_superuser("root"))
    for account, _ in accounts.values():
        change = reverse("admin:providers_provideraccount_change", args=[account.pk])
        served["pages"].append(staff.get(change).text)
    return served


def test_no_credential_escapes_anywhere(
    admin, accounts, acme, logs, task_calls, settings, monkeypatch, subtests
):
    served = use_every_account(admin, accounts, acme, settings, monkeypatch)
    # The database as dumpdata writes it; the sandbox's tables play the providers' own databases
    # (a provider must know a key to check it), and production has no sandbox.
    dump = io.StringIO()
    call_command("dumpdata", exclude=["sandbox"], stdout=dump)

    assert any("the network stack fell over" in page for page in served["error pages"])
    assert len(task_calls) >= 6
    haystacks = {
        "logs": "\n".join(written_by_crier(logs.records)),
        "task arguments": repr(task_calls),
        "dumpdata": dump.getvalue(),
        **{where: "\n".join(texts) for where, texts in served.items()},
    }
    secrets = [secret for _, values in accounts.values() for secret in values]
    secrets += [WRONG_KEY, acme.account.credentials["api_key"], PASSWORD]
    secrets += [*settings.CRIER_ENCRYPTION_KEYS, settings.SECRET_KEY]
    for where, text in haystacks.items():
        with subtests.test(where=where):
            leaked = [f"{secret[:4]}…" for secret in secrets if secret in text]
            assert leaked == [], f"credentials in the {where}"


def test_the_access_log_masks_mobizons_api_key(caplog):
    """runserver logs each request line, query string and all; Mobizon (and the sandbox's
    Mobizon) carry the API key there (#15)."""
    secret = "".join(reversed("YEKNOZIBOM-terces"))
    line = f"GET /sandbox/mobizon/service/User/GetOwnBalance?output=json&apiKey={secret} HTTP/1.1"
    with caplog.at_level(logging.INFO, logger="django.server"):
        logging.getLogger("django.server").info('"%s" %s %s', line, "200", "81")

    assert secret not in caplog.text
    assert "apiKey=***" in caplog.text and "output=json" in caplog.text
