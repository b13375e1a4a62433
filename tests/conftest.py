"""Suite-wide fixtures and named personas.

Un-mocked network is blocked for the whole run by pytest-socket (addopts in pyproject.toml):
only loopback is reachable, for the live server and the provider sandbox.

Personas: workspace "Acme" has one member per role (olivia the owner, adam the admin, sam the
sender, vera the viewer) and an account with a sender name; workspace "Globex" belongs to
bob, who owns it and has objects of his own. Every persona's password is PASSWORD.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils import timezone
from hypothesis import settings as hypothesis_profiles

from campaigns import grouped
from campaigns.models import Campaign, MessageTemplate, RecipientImport
from contacts.models import Contact, ContactField, ContactImport, ContactList, ListMember, Segment
from crier.celery import app
from providers.models import ProviderAccount, Rate, SenderName
from webhooks.models import Delivery, Endpoint, Event, EventType
from workspaces.models import Membership, Role, Workspace

PASSWORD = "correct horse battery staple"

# CI runs every hypothesis test derandomized (the same examples on every run, so a red build
# is reproducible and never flaky) and without the example database; set CI to do the same.
# No deadline, here or on a laptop: the machines are shared, and an example that took 200 ms
# under someone else's load is not a defect (one failed so beside three benches).
hypothesis_profiles.register_profile(
    "ci", derandomize=True, database=None, print_blob=True, deadline=None
)
hypothesis_profiles.register_profile("local", deadline=None)
hypothesis_profiles.load_profile("ci" if os.environ.get("CI") else "local")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, and the single-message writer's thread ends before the test database
    is dropped, closing its connection (campaigns.grouped)."""
    yield
    grouped.writer.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite's test database is a file, not Django's in-memory default: on an in-memory
    database the live server is handed the test thread's own connection, so the sandbox and
    the engine would share one transaction and one side's rollback could undo the other's
    writes. Durability is not what a test needs, so no fsync."""
    from django.conf import settings as django_settings

    for database in django_settings.DATABASES.values():
        if database["ENGINE"] == "django.db.backends.sqlite3":
            database.setdefault("TEST", {})["NAME"] = str(
                tmp_path_factory.mktemp("database") / "test.sqlite3"
            )
            options = database.setdefault("OPTIONS", {})
            options["init_command"] = f"{options.get('init_command', '')}PRAGMA synchronous=OFF;"


@pytest.fixture(autouse=True, scope="session")
def _no_real_broker():
    # A task a test publishes without running it eagerly stays in this process (kombu's memory
    # transport): never in a developer's var/broker.sqlite3, where `make run`'s worker would take
    # it, nor in a Redis the environment names. (Celery prefers a CELERY_BROKER_URL variable to
    # broker_url, but not to these two.)
    app.conf.broker_read_url = app.conf.broker_write_url = "memory://"
    app.conf.broker_transport = None


@pytest.fixture(autouse=True)
def _test_settings(request, settings, tmp_path):
    # Uploads and reports go to a throw-away folder, never into a developer's var/.
    settings.MEDIA_ROOT = tmp_path / "media"
    # A fresh key per test, so no test depends on a developer's var/encryption_key.
    settings.CRIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    # Real hashing costs ~0.3 s a user; the personas would make the suite crawl.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # An empty cache: rolled back, a test's ids come again in the next one (SQLite), and a
    # value cached under them (campaigns.tracking.charts.campaign_chart) would be its own.
    cache.clear()
    if "live_server" in request.fixturenames:
        # Accounts may call the live server's /sandbox/ over http: Crier serves it itself.
        url = request.getfixturevalue("live_server").url
        settings.CRIER_SANDBOX_ORIGINS = [*settings.CRIER_SANDBOX_ORIGINS, url]


@pytest.fixture
def fast_engine(request, settings):
    """Short waits for tests that run the send engine against the sandbox (mark a module with
    ``usefixtures("fast_engine")``): backoff capped at 0.2 s, a 5 s provider timeout, 1 s
    before a lookup counts, the module's SEND_BATCH_SIZE if it sets one; the sandbox's clock
    reset before and after."""
    from providers.sandbox import clock

    if size := getattr(request.module, "SEND_BATCH_SIZE", None):
        settings.CRIER_SEND_BATCH_SIZE = size
    settings.CRIER_SEND_BACKOFF_CAP = 0.2
    settings.CRIER_PROVIDER_TIMEOUT = 5.0
    settings.CRIER_RECONCILE_SETTLE_SECONDS = 1.0
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def no_phone_number_in_any_event(db):
    """After the test: no audit event holds a phone number (tests/audit/bookkit.py); the test
    adds the numbers it deleted or erased to the set it is given."""
    from tests.audit.bookkit import assert_no_phone_number

    phones: set[str] = set()
    yield phones
    assert_no_phone_number(phones)


@dataclass
class Tenant:
    workspace: Workspace
    account: ProviderAccount
    sender: SenderName
    members: dict[str, Membership]  # role -> membership
    campaign: Campaign
    recipient_import: RecipientImport
    stop_entry: Contact  # an opted-out contact: an entry of the stop list
    rate: Rate
    # The contact book: a field, a list holding ``contact`` (who has a value for the field)
    # and a segment over both.
    contact: Contact | None = None
    contact_field: ContactField | None = None
    contact_list: ContactList | None = None
    segment: Segment | None = None
    template: MessageTemplate | None = None
    contact_import: ContactImport | None = None
    # A webhook endpoint and one delivery in its log.
    endpoint: Endpoint | None = None
    delivery: Delivery | None = None

    def user(self, role: str):
        return self.members[role].user


def make_user(django_user_model, username: str):
    return django_user_model.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD
    )


def make_tenant(django_user_model, name: str, people: dict[str, str]) -> Tenant:
    workspace = Workspace.objects.create(name=name, default_country="KZ")
    members = {
        role: Membership.objects.create(
            user=make_user(django_user_model, username), workspace=workspace, role=role
        )
        for role, username in people.items()
    }
    account = ProviderAccount(workspace=workspace, provider="bsg", name=f"{name} BSG")
    account.credentials = {"api_key": f"live_{name.lower()}_secret_key_9876"}
    account.save()
    sender = SenderName.objects.create(account=account, value=f"{name}Info", status="approved")
    campaign = Campaign.objects.create(
        workspace=workspace, name=f"{name} spring sale", account=account, text="Hi {name}"
    )
    recipient_import = RecipientImport.objects.create(
        campaign=campaign,
        pasted_text="phone;name\n+77011234567;Ann",
        columns=["phone", "name"],
        preview=[{"number": 2, "cells": ["+77011234567", "Ann"]}],
        phone_column=0,
    )
    recipient_import.rejections_file.save(
        "rejected.csv", ContentFile(b"row,phone,code,reason\r\n3,abc,not_a_number,x\r\n")
    )
    stop_entry = Contact.objects.create(
        workspace=workspace, phone="+77019998877", opted_out_at=timezone.now()
    )
    rate = Rate.objects.create(account=account, country="KZ", price=Decimal("0.0350"))
    tenant = Tenant(
        workspace, account, sender, members, campaign, recipient_import, stop_entry, rate
    )
    add_contact_book(tenant)
    tenant.template = MessageTemplate.objects.create(
        workspace=workspace, name=f"{name} welcome", text="Welcome aboard, {name}!"
    )
    tenant.contact_import = ContactImport.objects.create(
        workspace=workspace,
        pasted_text="phone;name\n+77011234567;Ann",
        columns=["phone", "name"],
        preview=[{"number": 2, "cells": ["+77011234567", "Ann"]}],
        phone_column=0,
        mapping=["phone", "name"],
    )
    tenant.contact_import.rejections_file.save(
        "rejected.csv", ContentFile(b"row,phone,code,reason\r\n3,abc,not_a_number,x\r\n")
    )
    add_webhook(tenant)
    return tenant


def add_webhook(tenant: Tenant) -> None:
    tenant.endpoint = Endpoint.objects.create(
        workspace=tenant.workspace,
        url=f"https://hooks.{tenant.workspace.name.lower()}.example/crier",
        event_types=[EventType.CAMPAIGN_COMPLETED],
    )
    event = Event.objects.create(
        workspace=tenant.workspace, type=EventType.CAMPAIGN_COMPLETED, data={}, fanned_out=True
    )
    tenant.delivery = Delivery.objects.create(
        endpoint=tenant.endpoint, event=event, status=Delivery.Status.DELIVERED, attempts=1
    )


def add_contact_book(tenant: Tenant) -> None:
    workspace = tenant.workspace
    tenant.contact_field = ContactField.objects.create(
        workspace=workspace, key="city", label="City"
    )
    tenant.contact = Contact.objects.create(
        workspace=workspace,
        phone="+77015550101",
        country="KZ",
        name="Ann Lee",
        fields={"city": "Almaty"},
    )
    tenant.contact_list = ContactList.objects.create(workspace=workspace, name="Customers")
    ListMember.objects.create(contact_list=tenant.contact_list, contact=tenant.contact)
    tenant.segment = Segment.objects.create(
        workspace=workspace,
        name="Almaty customers",
        conditions={
            "match": "all",
            "rules": [
                {"field": "field:city", "op": "is", "value": "Almaty"},
                {"field": "list", "op": "in", "value": str(tenant.contact_list.pk)},
            ],
        },
    )


@pytest.fixture
def acme(db, django_user_model) -> Tenant:
    return make_tenant(
        django_user_model,
        "Acme",
        {Role.OWNER: "olivia", Role.ADMIN: "adam", Role.SENDER: "sam", Role.VIEWER: "vera"},
    )


@pytest.fixture
def globex(db, django_user_model) -> Tenant:
    return make_tenant(django_user_model, "Globex", {Role.OWNER: "bob"})


@pytest.fixture
def as_role(client, acme):
    """A client logged in as Acme's member with the given role: ``as_role("viewer")``."""

    def login(role: str):
        client.force_login(acme.user(role))
        return client

    return login
