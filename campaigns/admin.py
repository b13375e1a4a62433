from django.contrib import admin

from campaigns.models import Campaign, Message, RecipientImport, StopListEntry


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
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
