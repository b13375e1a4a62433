from django.contrib import admin

from campaigns.models import (
    Campaign,
    CampaignCounters,
    CounterSnapshot,
    Dispatch,
    Estimate,
    Message,
    RecipientImport,
    StopListEntry,
)


class DispatchInline(admin.TabularInline):
    model = Dispatch
    fields = ["key", "status", "provider_campaign_id", "size", "accepted", "rejected", "attempts"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    inlines = [DispatchInline]
    list_display = ["name", "workspace", "channel", "account", "status", "start_at", "created_at"]
    list_filter = ["status", "channel", "account__provider", "workspace"]
    search_fields = ["name", "sender", "text"]
    list_select_related = ["workspace", "account"]
    date_hierarchy = "created_at"
    raw_id_fields = ["account", "created_by"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["phone", "campaign", "status", "country", "provider_message_id", "updated_at"]
    list_filter = ["status", "country"]
    search_fields = ["phone", "reference", "provider_message_id"]
    list_select_related = ["campaign"]
    raw_id_fields = ["campaign"]
    # A million-row table: no full count on every page.
    show_full_result_count = False


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    """The record of what went to a provider: read it, never edit it."""

    list_display = ["key", "campaign", "status", "provider_campaign_id", "size", "accepted"]
    list_filter = ["status", "campaign__account__provider"]
    search_fields = ["key", "provider_campaign_id", "campaign__name"]
    list_select_related = ["campaign"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(StopListEntry)
class StopListEntryAdmin(admin.ModelAdmin):
    list_display = ["phone", "workspace", "note", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["phone", "note"]


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
