"""Re-encrypts every account's credentials and every webhook endpoint's signing secrets under
the first key of CRIER_ENCRYPTION_KEYS.

Rotation: put a new key first (keep the old one after it), run this command, then drop the old
key. Rows that no configured key can read are reported and left untouched.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import crypto
from providers.models import ProviderAccount
from webhooks.models import Endpoint


class Command(BaseCommand):
    help = (
        "Re-encrypt every provider account's credentials and webhook endpoint's secrets under "
        "the first encryption key."
    )

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        with transaction.atomic():
            for account in ProviderAccount.objects.select_for_update().only(
                "pk", "name", "credentials_encrypted"
            ):
                if not account.credentials_encrypted:
                    continue
                try:
                    account.credentials_encrypted = crypto.rotate(account.credentials_encrypted)
                except crypto.CredentialsUnreadable:
                    unreadable.append(f"{account.name} (id {account.pk})")
                    continue
                account.save(update_fields=["credentials_encrypted"])
                rotated += 1
            endpoints = _rotate_endpoints(unreadable)
        self.stdout.write(
            f"Re-encrypted {rotated} account(s) and {endpoints} webhook endpoint(s) under the "
            "first key."
        )
        if unreadable:
            raise CommandError(
                "No configured key decrypts these; they were left as they were: "
                + ", ".join(unreadable)
            )


def _rotate_endpoints(unreadable: list[str]) -> int:
    """Each endpoint's secrets re-encrypted: read through the field (decrypted with any key),
    saved through it (encrypted with the first)."""
    rotated = 0
    for pk in Endpoint.objects.values_list("pk", flat=True):
        try:
            endpoint = Endpoint.objects.select_for_update().get(pk=pk)
        except crypto.CredentialsUnreadable:
            unreadable.append(f"webhook endpoint {pk}")
            continue
        endpoint.save(update_fields=["secret", "previous_secret"])
        rotated += 1
    return rotated
