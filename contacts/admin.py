from django.contrib import admin

from contacts.models import (
    Contact,
    ContactField,
    ContactImport,
    ContactList,
    ListMember,
    Segment,
)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "name", "workspace", "country", "opted_out_at", "updated_at"]
    list_filter = ["workspace", "opt_out_source"]
    search_fields = ["phone", "name"]
    show_full_result_count = False  # a million contacts: no COUNT(*) on every page
    readonly_fields = ["created_at", "updated_at", "last_sent_at", "last_delivered_at"]


@admin.register(ContactField)
class ContactFieldAdmin(admin.ModelAdmin):
    list_display = ["label", "key", "kind", "workspace"]
    list_filter = ["workspace", "kind"]


@admin.register(ContactList)
class ContactListAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]


@admin.register(ListMember)
class ListMemberAdmin(admin.ModelAdmin):
    list_display = ["contact", "contact_list", "added_at"]
    list_select_related = ["contact", "contact_list"]
    raw_id_fields = ["contact", "contact_list"]
    search_fields = ["contact__phone", "contact_list__name"]
    show_full_result_count = False


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "workspace",
        "status",
        "created",
        "updated",
        "rejected",
        "created_at",
    ]
    list_filter = ["status", "upsert", "list_action"]
    search_fields = ["filename"]
    list_select_related = ["workspace"]
    raw_id_fields = ["workspace", "created_by", "contact_list"]
    readonly_fields = ["summary", "preview", "columns", "mapping", "rows_done", "rows_total"]
