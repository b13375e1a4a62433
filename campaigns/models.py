"""Campaigns, their messages (one row per recipient), recipient imports and message templates.

Longer than 400 lines because the campaign's rows (campaign, messages, batches, imports,
counters, snapshots, estimate, templates, number index) and their state comments belong
together: every sub-package reads them.
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.db import connection, models
from django.db.models import Q

from core.imports import FINISHED, ImportStatus
from core.statuses import BatchStatus, CampaignStatus, MessageStatus

# A new reference per row, made by the database so a million rows change in one statement
# (the message table aliased ``m``): 32 hex characters like references(), random instead of
# time-ordered.
NEW_REFERENCE_SQL = {
    "postgresql": "md5(random()::text || clock_timestamp()::text || m.id::text)",
    "sqlite": "lower(hex(randomblob(16)))",
}


def new_reference() -> str:
    """A per-message reference unique forever, 32 hex characters (fits BSG's limit)."""
    return references(1)[0]


def references(count: int) -> list[str]:
    """``count`` new references: a 48-bit millisecond timestamp and 80 random bits, as 32 hex
    characters (the layout of a UUIDv7, without the version bits).

    As unique as a uuid4 for our purposes (80 random bits within one millisecond), and
    time-ordered, so the unique index grows at its end instead of splitting pages all over: a
    million-row import inserts several times faster than with random uuid4s.
    """
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    blob = os.urandom(10 * count).hex()
    return [stamp + blob[i : i + 20] for i in range(0, 20 * count, 20)]


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice"


class PlaceholderPolicy(models.TextChoices):
    # Mirrors Mobizon's placeholdersFlag 1/2/3 for a recipient missing a placeholder value.
    KEEP = "keep", "Keep the placeholder text"
    STRIP = "strip", "Remove the placeholder"
    REJECT = "reject", "Reject the recipient"


class VoiceKind(models.TextChoices):
    TTS = "tts", "Text to speech"
    SSML = "ssml", "SSML"
    ANNOUNCEMENT = "announcement", "Recorded announcement"


class Campaign(models.Model):
    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="campaigns"
    )
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SMS)
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    sender = models.CharField(max_length=40, blank=True)
    text = models.TextField(blank=True, help_text="The SMS text or the text to speak.")
    voice_kind = models.CharField(max_length=12, choices=VoiceKind.choices, blank=True)
    ssml = models.TextField(blank=True)
    announcement_id = models.CharField(max_length=100, blank=True)
    voice = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=10, blank=True)
    voice_category = models.CharField(max_length=20, blank=True)
    placeholder_policy = models.CharField(
        max_length=6, choices=PlaceholderPolicy.choices, default=PlaceholderPolicy.KEEP
    )
    start_at = models.DateTimeField(null=True, blank=True, help_text="Empty: send at launch.")
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    rate_period = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    validity_minutes = models.PositiveIntegerField(null=True, blank=True)
    flash = models.BooleanField(default=False)
    # --- Sending windows (campaigns.windows): read in each recipient's time zone ---
    send_window = models.TextField(
        blank=True, db_default="", help_text="Empty: the workspace's window."
    )
    send_at_local = models.TimeField(null=True, blank=True)  # "at 10:00 each recipient's time"
    deadline = models.DateTimeField(null=True, blank=True)  # nothing is handed over after it
    spread_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    # Recipients per zone key, fixed at launch: the window's claim reads it instead of the rows.
    zones = models.JSONField(default=dict, blank=True, db_default={})
    # Each destination country goes through the workspace's account that sends there most
    # cheaply (campaigns.compose.routes); off: every message goes through ``account``.
    cheapest_route = models.BooleanField(
        "Send each country through the cheapest account",
        default=False,
        db_default=False,
        help_text="Compares the rate cards of the workspace's active accounts in the same "
        "currency that may send there with this sender name.",
    )
    # The audience drawn from the contact book, beside any uploaded recipients: the members of
    # these lists and segments, minus the exclusion lists' members and opted-out contacts,
    # de-duplicated; fixed into messages at launch (campaigns.audiences).
    audience_lists = models.ManyToManyField(
        "contacts.ContactList", blank=True, related_name="audience_of"
    )
    audience_segments = models.ManyToManyField(
        "contacts.Segment", blank=True, related_name="audience_of"
    )
    exclusion_lists = models.ManyToManyField(
        "contacts.ContactList", blank=True, related_name="excluded_from"
    )
    # The saved text chosen in compose (campaigns.compose.message_templates.choose); the
    # campaign keeps its own copy of the text, which may have been edited since.
    template = models.ForeignKey(
        "MessageTemplate",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    status = models.CharField(
        max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # The API's single messages (campaigns.transactional): one open campaign per account,
    # sender name and channel, never finished, each message with its own text.
    transactional = models.BooleanField(default=False, db_default=False)
    status_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # --- Sending (see campaigns.sending.engine) ---
    launched_at = models.DateTimeField(null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The price estimate frozen at launch: {"total", "currency", "messages", "segments",
    # "unpriced_messages"}, with a cheapest route's "routes" (per country: account, messages,
    # parts, cost) and "single_total" (the campaign's own account for all); money as strings.
    estimate = models.JSONField(default=dict, blank=True)
    # No worker touches the campaign before this (rate limit, backoff after an error).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker was given the campaign until then; the beat task enqueues it again afterwards.
    lease_until = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)  # every message handed over
    stop_report = models.TextField(blank=True)  # what the provider side said when stopped

    # --- Failover (see campaigns.sending.failover) ---
    # The account (and sender name; empty: the campaign's) pending messages move to when the
    # primary trips the rule below; of the same workspace and channel (compose checks it).
    backup_account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="backup_for",
    )
    backup_sender = models.CharField(max_length=40, blank=True)
    # The rule: this many temporary errors in a row at the primary (0: not counted), or the
    # primary failing for this many minutes (0: not timed), or an account error (out of
    # balance or credits, credentials refused) when failover_on_account_error.
    failover_errors = models.PositiveSmallIntegerField(default=5)
    failover_minutes = models.PositiveSmallIntegerField(default=10)
    failover_on_account_error = models.BooleanField(default=True)
    # The primary's temporary errors since its last answer, and since when it has failed.
    primary_errors = models.PositiveIntegerField(default=0)
    primary_failing_since = models.DateTimeField(null=True, blank=True)
    failed_over_at = models.DateTimeField(null=True, blank=True)  # set once; never undone
    failover_reason = models.TextField(blank=True)

    # --- Tracking (see campaigns.tracking.polling) ---
    next_poll_at = models.DateTimeField(null=True, blank=True)  # beat polls it from then on
    poll_lease_until = models.DateTimeField(null=True, blank=True)  # one poll at a time
    last_polled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["status", "next_attempt_at"], name="campaign_due"),
            models.Index(fields=["status", "next_poll_at"], name="campaign_poll_due"),
        ]

    def __str__(self) -> str:
        return self.name

    def routed_countries(self) -> dict[str, int]:
        """The cheapest route as launched: country -> the other account that carries it (the
        split frozen in ``estimate``). A message of such a country with no account of its own
        goes through that account; any other, through the campaign's."""
        routes = (self.estimate or {}).get("routes") or []
        return {r["country"]: r["account"] for r in routes if r.get("account")}

    @property
    def stop_report_done(self) -> bool:
        """False while a stopped campaign waits to hear what the provider stopped."""
        return self.status != CampaignStatus.CANCELLED or bool(self.stop_report)


# How an erased contact's number starts in their past messages (campaigns.contact_history): a
# stand-in no provider accepts, skipped by retries and clones.
ERASED_PREFIX = "erased:"


# The statuses message_campaign_status holds: all but the three a poll writes in bulk.
POLLED_IN_BULK = (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED)
INDEXED_STATUSES = [s for s in MessageStatus.values if s not in POLLED_IN_BULK]


class Message(models.Model):
    """One recipient of a campaign. ``reference`` is what makes a submission idempotent."""

    # No index of its own: the (campaign, status) and (campaign, id, status) indexes serve
    # every lookup by campaign, and each index costs time on every row of a million-row
    # import. No database constraint either: PostgreSQL checks one with a query per inserted
    # row (7 s of a million-row import). The import locks the campaign row before it commits
    # (clone creates the campaign in its own transaction) and services.delete locks it before
    # deleting, so no message outlives its campaign; Django's collector still deletes a
    # campaign's messages with it.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    # Unique through Meta.constraints: unique=True would add a second, LIKE-pattern index on
    # PostgreSQL that no query uses and every imported row pays for.
    reference = models.CharField(max_length=32, default=new_reference)
    phone = models.CharField(max_length=16)  # E.164
    country = models.CharField(max_length=2, blank=True)
    number_type = models.CharField(max_length=24, blank=True)
    row_number = models.PositiveIntegerField(null=True, blank=True)
    fields = models.JSONField(default=dict, blank=True)  # placeholder name -> value
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    # The batch that carried it to the provider; set when a worker claims it.
    batch = models.ForeignKey(
        "Batch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,  # the partial index below serves it without a NULL entry per import
    )
    # The account (and sender name) it goes through when not the campaign's own: its
    # cheapest route, or the backup it failed over to. Empty: the campaign's. No index and no
    # database constraint, for the import's sake (as campaign above); accounts are never
    # deleted while a campaign names them (PROTECT on Campaign.account and backup_account).
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    sender = models.CharField(max_length=40, blank=True, db_default="")
    # The recipient's zone key (core.windows), fixed at launch when a window applies: the
    # contact's zone, else the number's (several, space-separated, for a prefix that spans
    # several). Long enough for all of a country's zones.
    time_zone = models.CharField(max_length=400, blank=True, db_default="")
    # 1 for the first send; a retry of a failed message is a new attempt with a new reference.
    attempt = models.PositiveSmallIntegerField(default=1, db_default=1)
    provider_message_id = models.CharField(max_length=64, blank=True)
    raw_status = models.CharField(max_length=24, blank=True, db_default="")  # the provider's word
    error_code = models.CharField(max_length=32, blank=True)
    error_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            # A campaign's messages of one status: the claim's pending ones, the failed ones a
            # retry takes, the cancelled, the rare outcomes. Partial on PostgreSQL (migration
            # 0026; SQLite, which cannot tell that status = 'pending' is in the list, holds
            # every status): queued, sent and delivered are left out, as a poll writes them by
            # the hundred thousand and no update is HOT, so each change adds an entry to every
            # index whose predicate the new row matches. A page of those reads
            # message_campaign_order below instead. A 100,000-change poll cycle took 1.80 s
            # of PostgreSQL CPU against 2.04 s (bench/poll.py, medians of twelve, load 1-4);
            # the plans of the claim, the retry and the pages stayed. Not (campaign,
            # status, id), which would give the claim its pending ids in order: without
            # deduplication it takes 77 MB a million imported messages, against 12 MB.
            models.Index(
                fields=["campaign", "status"],
                condition=Q(status__in=INDEXED_STATUSES),
                name="message_campaign_status",
            ),
            # Partial: an imported message has no batch yet, so the import pays nothing.
            models.Index(fields=["batch"], condition=Q(batch__isnull=False), name="message_batch"),
            # Tracking matches Mobizon's reports by its message id; partial for the same reason.
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id",
            ),
            # The campaign page's recipient table: a page of a campaign's messages in order, of
            # every status or of one (status last, so a filtered page reads the index alone).
            # Without it PostgreSQL walks the primary key past every other campaign's rows
            # (0.5-0.7 s over 2M rows); with it the page costs a millisecond.
            models.Index(fields=["campaign", "id", "status"], name="message_campaign_order"),
            # A contact's history across campaigns (campaigns.contact_history) and its erasure.
            # Without it PostgreSQL reads every message of the workspace for one number: the
            # contact's page takes 1.4 s at p95 over 2M messages, 90 ms with it, and an erasure
            # 0.77 s against 0.05 s (bench/contact_history.py). It costs a million-row import
            # about 4 s of PostgreSQL CPU (6.6 -> 11.0 s, median of three; bench/import.py).
            models.Index(fields=["phone"], name="message_phone"),
            # The API's ?updated_since= (api.views.campaigns.message_page): the messages of a
            # campaign, or of each of a workspace's campaigns, changed since then. Without it
            # PostgreSQL reads every message of those campaigns: over 1M messages, 1,000
            # changed in the last hour, a workspace's first page took 5.7 s and a campaign's
            # 0.75 s; with it 13 ms and 0.5 ms (EXPLAIN ANALYZE, one run, cold cache).
            models.Index(fields=["campaign", "updated_at"], name="message_updated"),
        ]
        constraints = [models.UniqueConstraint(fields=["reference"], name="message_reference")]

    def __str__(self) -> str:
        return self.phone


def renew_references(ids: list[int], changes: str, params: list, condition: str = "", *args):
    """Gives each message of ``ids`` a new reference (NEW_REFERENCE_SQL) and ``changes`` (SQL
    assignments taking ``params``), where ``condition`` (taking ``args``) still holds: 5,000
    messages a statement, each chunk yielded with how many it changed (the caller tells
    webhooks). Must run inside a transaction."""
    table = Message._meta.db_table
    also = f" AND {condition}" if condition else ""
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS m SET reference = {NEW_REFERENCE_SQL[connection.vendor]}, "
                f"{changes} WHERE id IN ({', '.join(['%s'] * len(chunk))}){also}",
                [*params, *chunk, *args],
            )
            yield chunk, cursor.rowcount


class Batch(models.Model):
    """One batch of a campaign's messages handed to the provider as one provider-side campaign
    (a BSG campaign of up to 10,000 phones, a Mobizon campaign, an smsdrop campaign, one
    Conpeek request list). It is the unit of claiming, retrying and reconciling."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    # The account and sender name it went through: every message of a batch has the same
    # (Message.account, or the campaign's). Empty on batches older than routes: the campaign's.
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="batches",
    )
    sender = models.CharField(max_length=40, blank=True, db_default="")
    key = models.CharField(max_length=32, unique=True)  # ours; tags the provider campaign's name
    status = models.CharField(
        max_length=12, choices=BatchStatus.choices, default=BatchStatus.CLAIMED
    )
    # The provider's own id for this batch: to the provider, each batch is a campaign.
    provider_campaign_id = models.CharField(max_length=64, blank=True)
    remote_status = models.CharField(max_length=12, blank=True)  # common campaign status
    size = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)  # calls that failed and were retried
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The worker working on the batch: until when, and its token (a worker whose lease was
    # taken over by another writes nothing).
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    # When the last request that could have sent this batch left (set before each one): a
    # lookup that finds nothing proves nothing until the provider can no longer be working on
    # that request (sending.settled_at).
    last_request_at = models.DateTimeField(null=True, blank=True)
    # The provider refused the batch as a duplicate (it has these references already): it was
    # taken, whatever a lookup says, and is never sent again.
    provider_has_it = models.BooleanField(default=False, db_default=False)
    # What a multi-call submit got done before a retryable error (Mobizon: the recipients
    # added so far), so a retry goes on from there instead of starting over.
    progress = models.JSONField(default=dict, blank=True)
    stop_result = models.TextField(blank=True)
    stopped = models.BooleanField(null=True)  # after a stop: did the provider stop it?
    # --- Tracking ---
    polled_at = models.DateTimeField(null=True, blank=True)
    # Every message of the batch is final, or the provider finished it and its validity passed:
    # it is not polled any more.
    final = models.BooleanField(default=False, db_default=False)
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)  # actual
    currency = models.CharField(max_length=3, blank=True)
    # The short links of the batch's text with their clicks, as the provider last counted them
    # (providers.base.ShortLink as dicts; Mobizon's Campaign/GetLinks), and when it was asked.
    links = models.JSONField(default=list, blank=True, db_default=[])
    links_checked_at = models.DateTimeField(null=True, blank=True)
    # The ``updated_at`` of the batch when the engagement roll-up last read its messages
    # (campaigns.engagement.roll_up): a batch updated since then is read again.
    rolled_up_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["campaign", "status"])]

    def __str__(self) -> str:
        return self.provider_campaign_id or self.key


def by_account(campaign: Campaign, batches) -> dict:
    """``batches`` of ``campaign`` grouped by the account each went through (ProviderAccount ->
    its batches, in order); a batch older than routes went through the campaign's."""
    routes: dict = {}
    for batch in batches.select_related("account").order_by("pk"):
        routes.setdefault(batch.account or campaign.account, []).append(batch)
    return routes


class MessageTemplate(models.Model):
    """A saved text of a workspace for one channel, with {placeholders}: chosen in compose,
    where it is copied into the campaign (and may be edited there)."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="message_templates"
    )
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SMS)
    text = models.TextField()
    usage_count = models.PositiveIntegerField(default=0)  # campaigns that chose it
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"],
                name="message_template_name_once",
                violation_error_message="The workspace has a template with this name already.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImportMode(models.TextChoices):
    ADD = "add", "Add to the current recipients"
    REPLACE = "replace", "Replace the current recipients"


class RecipientImport(models.Model):
    """One upload or paste of recipients into a campaign, with what happened to every row."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)  # empty for pasted text
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    pasted_text = models.TextField(blank=True)
    # Reader options the user chose (encoding, delimiter, quotechar, has_header, sheet).
    options = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=list, blank=True)  # the first rows as the user sees them
    phone_column = models.PositiveSmallIntegerField(null=True, blank=True)
    mode = models.CharField(max_length=8, choices=ImportMode.choices, default=ImportMode.ADD)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # an estimate while running
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # {"by_reason": {code: n}, "by_country": {"KZ": n}}
    summary = models.JSONField(default=dict, blank=True)
    rejections_file = models.FileField(upload_to="rejections/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The running worker's last sign of life (every batch, and every second it waits); a
    # running import silent for long is failed by campaigns.recipients.imports.fail_abandoned.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename or "Pasted numbers"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def seconds_left(self, now) -> int | None:
        """An estimate from the pace so far; None until there is a pace to go by."""
        if not (self.started_at and self.rows_total and self.rows_done):
            return None
        elapsed = (now - self.started_at).total_seconds()
        remaining = max(self.rows_total - self.rows_done, 0)
        return round(elapsed / self.rows_done * remaining)


class EstimateStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # a worker will compute it
    RUNNING = "running", "Computing"  # a worker is reading the recipients; rows_done says how far
    DONE = "done", "Done"  # ``result`` is the estimate for ``fingerprint``
    FAILED = "failed", "Failed"  # the computation stopped; ``error`` says why


class Estimate(models.Model):
    """A campaign's price estimate (campaigns.compose.pricing), stored with the fingerprint of what
    it was computed from: a fresh one is reused, a stale one computed again. A big campaign is
    priced by a worker, which reports its progress here. One a campaign; a new computation replaces
    the last, and ``token`` tells a worker whether the computation it runs is still wanted."""

    campaign = models.OneToOneField(
        Campaign, on_delete=models.CASCADE, related_name="price_estimate"
    )
    fingerprint = models.CharField(max_length=64)  # pricing.fingerprint() of the inputs
    token = models.CharField(max_length=32)  # this computation's; a new one changes it
    status = models.CharField(
        max_length=8, choices=EstimateStatus.choices, default=EstimateStatus.QUEUED
    )
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)  # pending messages when it started
    # PriceEstimate.as_json(): {"currency", "lines", "unpriced", "total", "messages",
    # "segments"}; money as strings.
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # set by every progress report as well
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Estimate of {self.campaign}"

    @property
    def busy(self) -> bool:
        return self.status in {EstimateStatus.QUEUED, EstimateStatus.RUNNING}

    @property
    def percent(self) -> int:
        return min(100, self.rows_done * 100 // self.rows_total) if self.rows_total else 0


# The message statuses kept as columns of CampaignCounters, in MessageStatus order. The database
# triggers of migration 0007 keep one column per status; a new status needs a new column and
# new triggers.
COUNTED_STATUSES = tuple(MessageStatus.values)


class CampaignCounters(models.Model):
    """How many of a campaign's messages are in each status, kept by database triggers on
    campaigns_message (migration 0007) on every insert, status change and delete, whoever makes
    it: reading a campaign's figures costs one row, where a GROUP BY over a million messages
    costs seconds. ``cost`` is the actual cost the provider reported
    (campaigns.tracking.polling)."""

    campaign = models.OneToOneField(
        Campaign, on_delete=models.CASCADE, primary_key=True, related_name="counters"
    )
    total = models.IntegerField(default=0, db_default=0)
    pending = models.IntegerField(default=0, db_default=0)
    submitting = models.IntegerField(default=0, db_default=0)
    queued = models.IntegerField(default=0, db_default=0)
    sent = models.IntegerField(default=0, db_default=0)
    delivered = models.IntegerField(default=0, db_default=0)
    undelivered = models.IntegerField(default=0, db_default=0)
    expired = models.IntegerField(default=0, db_default=0)
    rejected = models.IntegerField(default=0, db_default=0)
    failed = models.IntegerField(default=0, db_default=0)
    cancelled = models.IntegerField(default=0, db_default=0)
    unknown = models.IntegerField(default=0, db_default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, db_default="")

    class Meta:
        verbose_name_plural = "campaign counters"

    def __str__(self) -> str:
        return f"Counters of campaign {self.campaign_id}"

    def as_dict(self) -> dict[str, int]:
        return {status: getattr(self, status) for status in COUNTED_STATUSES}


class CounterSnapshot(models.Model):
    """A campaign's counters at one moment, written by campaigns.tracking.polling whenever they
    changed: the campaign page charts them."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    counts = models.JSONField(default=dict)  # status -> count, every COUNTED_STATUSES key
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["campaign", "taken_at"]
        indexes = [models.Index(fields=["campaign", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.campaign_id} at {self.taken_at:%Y-%m-%d %H:%M:%S}"


class NumberIndex(models.Model):
    """Whether a campaign's numbers are in MessageDigits, where campaigns.number_index (which
    fills it, in the background) and the number search read it. A row per campaign ever
    filled or changed since; no row, or no ``built_at``: the search reads the messages."""

    campaign = models.OneToOneField(
        Campaign, on_delete=models.CASCADE, primary_key=True, related_name="number_index"
    )
    # Renewed by whatever changes the campaign's numbers (campaigns.number_index.changed): a
    # fill that began under another version is rolled back rather than marked built.
    version = models.CharField(max_length=32)
    built_at = models.DateTimeField(null=True, blank=True)  # complete since; None: not (yet)

    def __str__(self) -> str:
        return f"Number index of campaign {self.campaign_id}"


class MessageDigits(models.Model):
    """A message's number without its plus, beside the message rather than in it: a trigram
    index over them (PostgreSQL only, migration 0024) finds the numbers holding any digits,
    and costs the import nothing because it is filled after it (campaigns.number_index)."""

    # No constraint and nothing done on a message's deletion: a row whose message is gone
    # (an import replacing the recipients) finds nothing, as the search joins the messages,
    # and goes at the next fill. The campaign's deletion takes them all in one statement.
    message = models.OneToOneField(
        Message,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        db_constraint=False,
        related_name="+",
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    digits = models.CharField(max_length=15)

    def __str__(self) -> str:
        return self.digits
