from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    Batch,
    Campaign,
    CampaignCounters,
    CounterSnapshot,
    Estimate,
    Message,
    MessageDigits,
    MessageTemplate,
    NumberIndex,
    RecipientImport,
)
from campaigns.tasks import poll_campaign
from campaigns.tracking import polling as tracking


class BatchInline(admin.TabularInline):
    model = Batch
    fields = ["key", "status", "provider_campaign_id", "size", "accepted", "rejected", "attempts"]
    fields += ["remote_status", "polled_at", "final", "cost", "currency"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SnapshotInline(admin.TabularInline):
    """The counters over time, as the tracker wrote them: read only."""

    model = CounterSnapshot
    fields = ["taken_at", "counts", "cost"]
    readonly_fields = fields
    ordering = ["-taken_at"]
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    inlines = [BatchInline, SnapshotInline]
    list_display = [
        "name",
        "workspace",
        "channel",
        "account",
        "status",
        "delivered",
        "total",
        "cost",
        "start_at",
        "created_at",
    ]
    list_filter = ["status", "channel", "account__provider", "workspace"]
    search_fields = ["name", "sender", "text"]
    list_select_related = ["workspace", "account", "counters"]
    date_hierarchy = "created_at"
    raw_id_fields = ["account", "created_by"]
    readonly_fields = ["counter_figures", "next_poll_at", "last_polled_at", "completed_at"]
    actions = ["poll_now", "stop"]

    @admin.display(description="delivered")
    def delivered(self, obj) -> int | None:
        counters = getattr(obj, "counters", None)
        return counters.delivered if counters else None

    @admin.display(description="messages")
    def total(self, obj) -> int | None:
        counters = getattr(obj, "counters", None)
        return counters.total if counters else None

    @admin.display(description="actual cost")
    def cost(self, obj) -> str:
        counters = getattr(obj, "counters", None)
        if counters is None or counters.cost is None:
            return "-"
        return f"{counters.cost} {counters.currency}".strip()

    @admin.display(description="counters")
    def counter_figures(self, obj) -> str:
        counters = CampaignCounters.objects.filter(campaign=obj).first()
        if counters is None:
            return "-"
        figures = ", ".join(f"{status} {n:,}" for status, n in counters.as_dict().items() if n)
        return f"{counters.total:,} messages: {figures or 'none'}; cost {self.cost(obj)}"

    @admin.action(description="Poll the provider now")
    def poll_now(self, request, queryset) -> None:
        asked = busy = 0
        for campaign in queryset.filter(status__in=tracking.POLLED):
            Campaign.objects.filter(pk=campaign.pk).update(next_poll_at=timezone.now())
            if tracking.take_lease(campaign.pk):
                poll_campaign.delay_on_commit(campaign.pk)
                asked += 1
            else:
                busy += 1
        self.message_user(request, f"{asked} campaign(s) will be polled now.")
        if busy:
            self.message_user(
                request, f"{busy} campaign(s) are being polled already.", messages.WARNING
            )

    @admin.action(description="Stop the selected campaigns")
    def stop(self, request, queryset) -> None:
        stopped = 0
        for campaign in queryset:
            try:
                services.stop(campaign, request.user)
                stopped += 1
            except services.CampaignRuleError as error:
                self.message_user(request, f"{campaign}: {error}", messages.WARNING)
        if stopped:
            self.message_user(request, f"{stopped} campaign(s) stopped.")

    # Messages have no foreign-key constraint (models.Message): the campaign row is locked
    # first, so an import still storing messages commits them before they are deleted too.
    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            Campaign.objects.select_for_update().filter(pk=obj.pk).exists()
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            list(queryset.select_for_update().values_list("pk", flat=True))
            super().delete_queryset(request, queryset)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["phone", "campaign", "status", "country", "provider_message_id", "updated_at"]
    list_filter = ["status", "country"]
    search_fields = ["phone", "reference", "provider_message_id"]
    list_select_related = ["campaign"]
    raw_id_fields = ["campaign"]
    # A million-row table: no full count on every page.
    show_full_result_count = False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    """The record of what went to a provider: read it, never edit it."""

    list_display = ["key", "campaign", "status", "provider_campaign_id", "size", "accepted"]
    list_filter = ["status", "campaign__account__provider"]
    search_fields = ["key", "provider_campaign_id", "campaign__name"]
    list_select_related = ["campaign"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(RecipientImport)
class RecipientImportAdmin(admin.ModelAdmin):
    list_display = ["__str__", "campaign", "status", "accepted", "rejected", "created_at"]
    list_filter = ["status", "mode"]
    search_fields = ["filename", "campaign__name"]
    list_select_related = ["campaign"]
    raw_id_fields = ["campaign", "created_by"]
    readonly_fields = ["summary", "preview", "columns", "rows_done", "rows_total"]


@admin.register(Estimate)
class EstimateAdmin(admin.ModelAdmin):
    list_display = ["campaign", "status", "rows_done", "rows_total", "updated_at"]
    list_filter = ["status"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign"]
    raw_id_fields = ["campaign"]
    readonly_fields = ["fingerprint", "token", "result", "rows_done", "rows_total", "error"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Figures the database and the tracker keep: read them, never edit them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CampaignCounters)
class CampaignCountersAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "total", "pending", "queued", "sent", "delivered", "cost"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign"]


@admin.register(CounterSnapshot)
class CounterSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "taken_at", "cost"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign"]
    date_hierarchy = "taken_at"


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "channel", "usage_count", "last_used_at"]
    list_filter = ["workspace", "channel"]
    search_fields = ["name", "text"]
    readonly_fields = ["usage_count", "last_used_at", "created_at", "updated_at"]


@admin.register(NumberIndex)
class NumberIndexAdmin(ReadOnlyAdmin):
    """Whether a big campaign's numbers are searchable through MessageDigits (built by beat)."""

    list_display = ["campaign", "built_at", "version"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign"]


@admin.register(MessageDigits)
class MessageDigitsAdmin(ReadOnlyAdmin):
    """The number search's side table: a row per message of an indexed campaign."""

    list_display = ["digits", "campaign", "message_id"]
    search_fields = ["digits"]
    list_select_related = ["campaign"]
    # A million-row table: no full count on every page.
    show_full_result_count = False
