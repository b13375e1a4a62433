"""The shapes the API reads and writes. Business rules are not repeated here: a campaign's
fields go through the compose steps' own forms (api.views.campaigns), so the API refuses
exactly what the pages refuse, with the same messages."""

from __future__ import annotations

import functools

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from campaigns.models import (
    COUNTED_STATUSES,
    Campaign,
    Channel,
    CounterSnapshot,
    ImportMode,
    Message,
    PlaceholderPolicy,
    RecipientImport,
    VoiceKind,
)
from core.statuses import CampaignStatus
from providers.models import ProviderAccount, SenderName

# The largest id a database holds (a signed 64-bit integer): beyond it a lookup overflows.
MAX_ID = 2**63 - 1


def id_field(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class CountersSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    submitting = serializers.IntegerField()
    queued = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    undelivered = serializers.IntegerField()
    expired = serializers.IntegerField()
    rejected = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    unknown = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    currency = serializers.CharField(allow_blank=True)


class CampaignSerializer(serializers.ModelSerializer):
    send_at = serializers.DateTimeField(source="start_at", allow_null=True)
    # A wall-clock time in each recipient's own zone, so no offset: "10:00:00".
    send_at_local = serializers.CharField(allow_null=True)
    voice_kind = serializers.ChoiceField(choices=VoiceKind.choices, allow_blank=True)
    counters = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "status",
            "status_reason",
            "account",
            "sender",
            "text",
            "placeholder_policy",
            "template",
            "voice_kind",
            "ssml",
            "announcement_id",
            "voice",
            "language",
            "voice_category",
            "send_at",
            "rate_limit",
            "rate_period",
            "spread_hours",
            "send_window",
            "send_at_local",
            "deadline",
            "validity_minutes",
            "flash",
            "cheapest_route",
            "audience_lists",
            "audience_segments",
            "exclusion_lists",
            "estimate",
            "created_at",
            "updated_at",
            "launched_at",
            "submitted_at",
            "completed_at",
            "counters",
        ]
        read_only_fields = fields

    def get_counters(self, campaign) -> CountersSerializer:
        counters = getattr(campaign, "counters", None)
        values = {status: getattr(counters, status, 0) for status in COUNTED_STATUSES}
        values["total"] = getattr(counters, "total", 0)
        values["cost"] = getattr(counters, "cost", None)
        values["currency"] = getattr(counters, "currency", "")
        return CountersSerializer(values).data


class CampaignInputSerializer(serializers.Serializer):
    """What a draft may be given; every field is optional on PATCH. Checked further by the
    compose steps' forms."""

    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    account = id_field(help_text="A provider account's id.")
    sender = serializers.CharField(max_length=40, required=False, allow_blank=True)
    text = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    template = id_field(
        required=False,
        help_text="A message template's id: its text becomes the campaign's (give either "
        "template or text).",
    )
    placeholder_policy = serializers.ChoiceField(choices=PlaceholderPolicy.choices, required=False)
    voice_kind = serializers.ChoiceField(
        choices=VoiceKind.choices, required=False, allow_blank=True
    )
    ssml = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    announcement_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    voice = serializers.CharField(required=False, allow_blank=True, max_length=40)
    language = serializers.CharField(required=False, allow_blank=True, max_length=10)
    voice_category = serializers.CharField(required=False, allow_blank=True, max_length=20)
    send_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="ISO 8601 with an offset; null: at launch."
    )
    rate_limit = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    rate_period = serializers.ChoiceField(
        choices=[60, 3600, 86400], required=False, allow_null=True, help_text="Seconds."
    )
    spread_hours = serializers.IntegerField(
        required=False, allow_null=True, help_text="Send over this many hours of open window."
    )
    send_window = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text='Each recipient\'s local hours, e.g. "Mon-Fri 09:00-20:00; Sat 10:00-18:00"; '
        'empty: the workspace\'s; "always": any time.',
    )
    send_at_local = serializers.TimeField(
        required=False, allow_null=True, help_text="HH:MM in each recipient's own time zone."
    )
    deadline = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601 with an offset: nothing is handed over after it.",
    )
    validity_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100_000
    )
    flash = serializers.BooleanField(required=False)
    cheapest_route = serializers.BooleanField(
        required=False,
        help_text="Send each destination country through the workspace's account with the "
        "cheapest rate there (same currency, the sender name approved); the estimate shows "
        "the split.",
    )
    audience_lists = serializers.ListField(child=id_field(), required=False, max_length=100)
    audience_segments = serializers.ListField(child=id_field(), required=False, max_length=100)
    exclusion_lists = serializers.ListField(child=id_field(), required=False, max_length=100)


class CloneSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class LaunchSerializer(serializers.Serializer):
    confirm_unpriced = serializers.BooleanField(
        default=False,
        help_text="Launch although some destinations have no rate (their price is unknown).",
    )


class RecipientSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=64)
    fields = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=1000),
        required=False,
        help_text='Placeholder values: {"name": "Ann"} fills {name}.',
    )


class RecipientsSerializer(serializers.Serializer):
    recipients = RecipientSerializer(many=True, max_length=100_000, min_length=1)
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.ADD)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, TXT, XLSX or XLS.")
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.ADD)
    phone_column = serializers.IntegerField(
        required=False, min_value=0, help_text="0-based; guessed from the header when left out."
    )


class ImportSerializer(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="campaign_id")

    class Meta:
        model = RecipientImport
        fields = [
            "id",
            "campaign",
            "filename",
            "mode",
            "status",
            "error",
            "rows_done",
            "rows_total",
            "accepted",
            "rejected",
            "summary",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class RejectedRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row in the file (1 is the first line).")
    value = serializers.CharField(allow_blank=True, help_text="The phone cell as given.")
    code = serializers.CharField(help_text="A stable reason code, e.g. invalid_number.")
    reason = serializers.CharField()


class MessageSerializer(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="campaign_id")

    class Meta:
        model = Message
        fields = [
            "id",
            "campaign",
            "reference",
            "phone",
            "country",
            "status",
            "raw_status",
            "error_code",
            "error_reason",
            "attempt",
            "provider_message_id",
            "fields",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = CounterSnapshot
        fields = ["taken_at", "counts", "cost"]
        read_only_fields = fields


class PriceLineSerializer(serializers.Serializer):
    country = serializers.CharField(allow_blank=True)
    rate = serializers.CharField()
    messages = serializers.IntegerField()
    segments = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=14, decimal_places=6)
    subtotal = serializers.DecimalField(max_digits=18, decimal_places=6)
    account = serializers.IntegerField(
        allow_null=True,
        help_text="The cheapest route's account for these recipients; null: the campaign's.",
    )


class UnpricedLineSerializer(serializers.Serializer):
    country = serializers.CharField(allow_blank=True)
    messages = serializers.IntegerField()
    segments = serializers.IntegerField()


class PriceSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["done", "computing", "failed"])
    percent = serializers.IntegerField(help_text="How far a background computation got.")
    currency = serializers.CharField(allow_blank=True)
    total = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True)
    messages = serializers.IntegerField(allow_null=True)
    segments = serializers.IntegerField(allow_null=True)
    unpriced_messages = serializers.IntegerField(allow_null=True)
    lines = PriceLineSerializer(many=True)
    unpriced = UnpricedLineSerializer(many=True)
    single_total = serializers.DecimalField(
        max_digits=18,
        decimal_places=6,
        allow_null=True,
        help_text="With the cheapest route on: the priced lines through the campaign's account "
        "alone (total is through the routes). Null when the option is off.",
    )
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="What would block a launch now."
    )


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            "name",
            "provider",
            "currency",
            "balance",
            "balance_in_credits",
            "balance_checked_at",
            "allowed_countries",
            "is_active",
            "last_error",
        ]
        read_only_fields = fields


class SenderSerializer(serializers.ModelSerializer):
    class Meta:
        model = SenderName
        fields = ["id", "account", "value", "status", "note"]
        read_only_fields = fields


class SingleMessageSerializer(serializers.Serializer):
    account = id_field(help_text="The provider account to send with.")
    to = serializers.CharField(max_length=64, help_text="A phone number, E.164 preferred.")
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        default=Channel.SMS,
        help_text="sms, or voice: a call that reads ``text`` aloud, in ``voice`` and "
        "``language`` or the provider's defaults (an account whose provider cannot call is "
        "refused, 400).",
    )
    voice = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="A call's voice, one the provider documents (BSG: sonya, dariya, ostap, "
        "amala); left out: the provider's default.",
    )
    language = serializers.CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        default="",
        help_text="A call's language, one the provider documents; left out: its default.",
    )
    sender = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=2_000, help_text="The SMS, or what the call says.")
    fields = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=1000), required=False
    )


@functools.cache
def paged(serializer_class):
    """A page of a cursor-paginated list: ``next`` and ``previous`` are links, or null."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        f"Paged{name}List",
        {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


RejectedRowsSerializer = inline_serializer(
    "RejectedRows",
    {"count": serializers.IntegerField(), "results": RejectedRowSerializer(many=True)},
)


class CampaignFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)
    channel = serializers.ChoiceField(choices=["sms", "voice"], required=False)
    search = serializers.CharField(required=False, max_length=200)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
