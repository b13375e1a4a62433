"""Creates (or refreshes) the demo: a user, a workspace and one sandbox-backed account per
provider with approved sender names and, where the sandbox bills money, a rate for Kazakhstan
at the sandbox's own price, a few finished campaigns (messages, cost and counter snapshots) so
the overview and the campaign pages have something to show, and a contact book (the campaigns'
recipients with fields, two lists, a segment) with two message templates. What each provider
contributes is its emulator's ``demo`` (providers.sandbox.emulator.Demo). Safe to run on every
start: it never duplicates anything."""

from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from campaigns.models import (
    Batch,
    Campaign,
    CampaignCounters,
    Channel,
    CounterSnapshot,
    Message,
    MessageTemplate,
    new_reference,
)
from contacts.models import Contact, ContactField, ContactList, FieldKind, ListMember, Segment
from core.statuses import BatchStatus, CampaignStatus
from providers import registry
from providers.models import ProviderAccount, Rate, SenderName
from workspaces.models import Membership, Role, Workspace

DEMO_USERNAME = "demo"


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
            # A new hash (even of the same password) changes the session hash and would log the
            # demo user out on every `make run`.
            if not user.check_password(password):
                user.set_password(password)
            user.save()
            workspace, _ = Workspace.objects.get_or_create(
                name="Demo workspace",
                defaults={"default_country": "KZ", "time_zone": "Asia/Almaty", "currency": "USD"},
            )
            Membership.objects.update_or_create(
                user=user, workspace=workspace, defaults={"role": Role.OWNER}
            )
            demos = {slug: registry.emulator(slug).demo for slug in registry.PROVIDERS}
            accounts = {
                slug: self._account(workspace, slug, demo, origin, provision)
                for slug, demo in demos.items()
            }
            # Oldest first, so the campaigns' ids follow their dates.
            history = [(h, slug) for slug, demo in demos.items() for h in demo.history]
            for campaign, slug in sorted(history, key=lambda item: -item[0].days_ago):
                _finished_campaign(workspace, user, accounts[slug], campaign)
            _contact_book(workspace)
            _templates(workspace, user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: open {origin}/ and log in as {DEMO_USERNAME} / {password}"
            )
        )

    def _account(self, workspace, slug, demo, origin, provision):
        account, _ = ProviderAccount.objects.get_or_create(
            workspace=workspace,
            name=demo.account_name,
            defaults={"provider": slug, "currency": demo.currency},
        )
        account.api_base_url = f"{origin.rstrip('/')}/sandbox/{slug}"
        account.credentials = provision(slug, name=demo.account_name)
        account.save()
        for channel, price in demo.rates.items():
            Rate.objects.update_or_create(
                account=account, channel=channel, country="KZ", defaults={"price": price}
            )
        for value in ("Crier", "CrierDemo"):
            SenderName.objects.update_or_create(
                account=account,
                value=value,
                defaults={"status": SenderName.Status.APPROVED, "note": "Sandbox sender"},
            )
        return account


SNAPSHOTS = 24  # one every 5 minutes over the first two hours


def _finished_campaign(workspace, user, account, demo):
    """A completed campaign with its messages, cost and counter snapshots; made once: so the
    overview and the campaign pages have figures and charts to show."""
    name, size, share, price = demo.name, demo.recipients, demo.delivered_percent, demo.price
    if Campaign.objects.filter(workspace=workspace, name=name).exists():
        return
    launched = timezone.now() - timedelta(days=demo.days_ago)
    campaign = Campaign.objects.create(
        workspace=workspace, name=name, account=account, sender="Crier", created_by=user,
        text="Hello {name}, thank you for being with us.", status=CampaignStatus.COMPLETED,
        launched_at=launched, launched_by=user, completed_at=launched + timedelta(hours=2),
        estimate={"total": str(Decimal(price) * size), "currency": account.currency,
                  "messages": size, "segments": size, "unpriced_messages": 0},
    )  # fmt: skip
    Campaign.objects.filter(pk=campaign.pk).update(created_at=launched - timedelta(hours=1))
    delivered = size * share // 100
    failures = ["undelivered", "expired", "rejected", "undelivered"]
    # One provider batch, billed as tracking records it: the overview sums money from batches.
    batch = Batch.objects.create(
        campaign=campaign, account=account, sender="Crier", key=new_reference(),
        status=BatchStatus.SUBMITTED, size=size, accepted=size, final=True,
        cost=Decimal(price) * delivered, currency=account.currency,
        submitted_at=launched, polled_at=launched + timedelta(hours=2),
    )  # fmt: skip
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            batch=batch,
            phone=f"+7701{campaign.pk:03d}{n:04d}",
            country="KZ",
            row_number=n + 2,
            fields={"name": f"Customer {n + 1}"},
            status="delivered" if n < delivered else failures[n % len(failures)],
            raw_status="DELIVRD" if n < delivered else "UNDELIV",
            provider_message_id=f"demo-{campaign.pk}-{n}",
        )
        for n in range(size)
    )
    CampaignCounters.objects.filter(campaign=campaign).update(
        cost=Decimal(price) * delivered, currency=account.currency
    )
    counters = CampaignCounters.objects.get(campaign=campaign)
    final = counters.as_dict()
    CounterSnapshot.objects.bulk_create(
        CounterSnapshot(
            campaign=campaign,
            taken_at=launched + timedelta(minutes=5 * step),
            counts=_partway(final, size, step / SNAPSHOTS),
            cost=Decimal(price) * delivered * step // SNAPSHOTS,
        )
        for step in range(SNAPSHOTS + 1)
    )


def _partway(final: dict[str, int], size: int, done: float) -> dict[str, int]:
    """The counters a fraction of the way to ``final``: the rest still sent or pending."""
    settled = {status: round(n * done**0.5) if n else 0 for status, n in final.items()}
    settled["sent"] = min(size - sum(settled.values()), round(size * min(1.0, done * 4)))
    settled["pending"] = size - sum(v for k, v in settled.items() if k != "pending")
    return settled


CITIES = ["Almaty", "Astana", "Shymkent", "Karaganda"]
PLANS = ["Basic", "Plus", "Gold"]


def _contact_book(workspace):
    """The demo campaigns' recipients as contacts with a city and a plan, the list of them all,
    a short list to exclude, and a segment of Almaty's Gold customers; made once."""
    if workspace.contacts.exists():
        return
    ContactField.objects.create(workspace=workspace, key="city", label="City")
    ContactField.objects.create(
        workspace=workspace, key="plan", label="Plan", kind=FieldKind.CHOICE, choices=PLANS
    )
    sent = Message.objects.filter(campaign__workspace=workspace).values_list(
        "phone", "fields", "status", "updated_at"
    )
    contacts = [
        Contact(
            workspace=workspace,
            phone=phone,
            country="KZ",
            name=fields.get("name", ""),
            fields={"city": CITIES[n % len(CITIES)], "plan": PLANS[n % len(PLANS)]},
            time_zone="Asia/Almaty",
            last_sent_at=updated,
            last_delivered_at=updated if status == "delivered" else None,
        )
        for n, (phone, fields, status, updated) in enumerate(sent)
    ]
    Contact.objects.bulk_create(contacts, batch_size=2_000, ignore_conflicts=True)
    everyone = ContactList.objects.create(workspace=workspace, name="All customers")
    staff = ContactList.objects.create(workspace=workspace, name="Staff (exclude)")
    book = list(workspace.contacts.order_by("pk"))
    ListMember.objects.bulk_create(
        [ListMember(contact_list=everyone, contact=contact) for contact in book],
        batch_size=2_000,
    )
    ListMember.objects.bulk_create(
        [ListMember(contact_list=staff, contact=contact) for contact in book[:5]]
    )
    Segment.objects.create(
        workspace=workspace,
        name="Gold customers in Almaty",
        conditions={
            "match": "all",
            "rules": [
                {"field": "field:city", "op": "is", "value": "Almaty"},
                {"field": "field:plan", "op": "is", "value": "Gold"},
            ],
        },
    )


def _templates(workspace, user):
    texts = {
        "Welcome": "Hello {name}, welcome to our {plan} plan!",
        "Appointment reminder": "{name}, a reminder of your visit tomorrow in {city}.",
    }
    for name, text in texts.items():
        MessageTemplate.objects.get_or_create(
            workspace=workspace,
            name=name,
            defaults={"channel": Channel.SMS, "text": text, "created_by": user},
        )
