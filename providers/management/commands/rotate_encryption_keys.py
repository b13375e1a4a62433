"""Re-encrypts every account's credentials under the first key of CRIER_ENCRYPTION_KEYS.

Rotation: put a new key first (keep the old one after it), run this command, then drop the old
key. Accounts whose credentials no configured key can read are reported and left untouched.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from providers import crypto
from providers.models import ProviderAccount


class Command(BaseCommand):
    help = "Re-encrypt every provider account's credentials under the first encryption key."

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
        self.stdout.write(f"Re-encrypted {rotated} account(s) under the first key.")
        if unreadable:
            raise CommandError(
                "No configured key decrypts these accounts; they were left as they were: "
                + ", ".join(unreadable)
            )
