"""Migration webhooks 0002 encrypts the secrets endpoints already have, and its way back
decrypts them: no receiver has to change its secret."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.campaigns.test_migrations import at_the_end, migrate  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

SECRET, PREVIOUS = "whsec_" + "a" * 32, "whsec_" + "b" * 32


def stored() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhooks_endpoint")
        return cursor.fetchone()


def test_existing_secrets_are_encrypted_and_decrypted_on_the_way_back(at_the_end):  # noqa: F811
    apps = migrate(("webhooks", "0001_initial"))
    workspace = apps.get_model("dashboard", "Workspace").objects.create(name="Hooked")
    apps.get_model("webhooks", "Endpoint").objects.create(
        workspace=workspace, url="https://hooks.example/in", secret=SECRET, previous_secret=PREVIOUS
    )

    apps = migrate(("webhooks", "0002_encrypted_secrets"))
    endpoint = apps.get_model("webhooks", "Endpoint").objects.get()
    assert (endpoint.secret, endpoint.previous_secret) == (SECRET, PREVIOUS)
    assert "whsec_" not in "".join(stored())

    migrate(("webhooks", "0001_initial"))
    assert stored() == (SECRET, PREVIOUS)
