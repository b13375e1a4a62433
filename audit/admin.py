from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: a trail that staff could edit would prove nothing."""

    list_display = ["created_at", "workspace", "actor_name", "action", "target"]
    list_filter = ["action", "workspace"]
    search_fields = ["actor_name", "target", "workspace__name"]
    list_select_related = ["workspace"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
