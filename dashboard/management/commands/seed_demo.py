"""Creates (or refreshes) the demo: a user, a workspace and one sandbox-backed account per
provider with approved sender names and, where the sandbox bills money, a rate for Kazakhstan
at the sandbox's own price. Safe to run on every start: it never duplicates anything."""

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dashboard.models import Membership, Role, Workspace
from providers import registry
from providers.models import ProviderAccount, Rate, SenderName

DEMO_USERNAME = "demo"
DEMO_ACCOUNTS = {
    "bsg": ("BSG (sandbox)", "EUR"),
    "mobizon": ("Mobizon (sandbox)", "KZT"),
    "smsdrop": ("smsdrop (sandbox)", "XOF"),
    "conpeek": ("Conpeek voice (sandbox)", "PLN"),
}


class Command(BaseCommand):
    help = "Create the demo user, workspace and sandbox-backed provider accounts."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="crier-demo")
        parser.add_argument(
            "--origin",
            default="http://127.0.0.1:8000",
            help="Where this Crier is served; the demo accounts call its /sandbox/.",
        )

    def handle(self, *args, password, origin, **options):
        if not settings.SANDBOX or not apps.is_installed("providers.sandbox"):
            raise CommandError("The demo talks to the provider sandbox: run it with SANDBOX=true.")
        from providers.sandbox.accounts import provision

        with transaction.atomic():
            user, _ = get_user_model().objects.get_or_create(
                username=DEMO_USERNAME, defaults={"email": "demo@example.com"}
            )
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            workspace, _ = Workspace.objects.get_or_create(
                name="Demo workspace",
                defaults={"default_country": "KZ", "time_zone": "Asia/Almaty", "currency": "USD"},
            )
            Membership.objects.update_or_create(
                user=user, workspace=workspace, defaults={"role": Role.OWNER}
            )
            for slug, (name, currency) in DEMO_ACCOUNTS.items():
                self._account(workspace, slug, name, currency, origin, provision)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: open {origin}/ and log in as {DEMO_USERNAME} / {password}"
            )
        )

    def _account(self, workspace, slug, name, currency, origin, provision):
        registry.get(slug)  # fails loudly on a slug the registry does not know
        account, _ = ProviderAccount.objects.get_or_create(
            workspace=workspace, name=name, defaults={"provider": slug, "currency": currency}
        )
        account.api_base_url = f"{origin.rstrip('/')}/sandbox/{slug}"
        account.credentials = provision(slug, name=name)
        account.save()
        from providers.sandbox.billing import MOBIZON_PRICES, SEGMENT_PRICES

        # The sandbox's price per segment, so the demo's estimate matches what it bills; smsdrop
        # counts credits, which no money rate describes.
        price = {"mobizon": MOBIZON_PRICES["mobizon.kz"], **SEGMENT_PRICES}.get(slug)
        if slug != "smsdrop" and price is not None:
            Rate.objects.update_or_create(account=account, country="KZ", defaults={"price": price})
        for value in ("Crier", "CrierDemo"):
            SenderName.objects.update_or_create(
                account=account,
                value=value,
                defaults={"status": SenderName.Status.APPROVED, "note": "Sandbox sender"},
            )
