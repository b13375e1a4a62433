from django.contrib import admin
from django.db import transaction

from workspaces.models import Invitation, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "default_country", "time_zone", "currency", "created_at"]
    list_filter = ["default_country", "currency"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    # Contact.workspace has no database constraint: a workspace is locked before Django's
    # collector gathers what to delete with it, so that a contact import still running has
    # committed its contacts (and they go too) or fails once the workspace is gone.
    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            Workspace.objects.select_for_update().filter(pk=obj.pk).exists()
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            list(Workspace.objects.select_for_update().filter(pk__in=queryset).values("pk"))
            super().delete_queryset(request, queryset)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: an invitation is made and answered through its link, never here (the admin
    cannot show the link, only its hash)."""

    list_display = ["email", "workspace", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["email", "workspace__name"]
    list_select_related = ["workspace"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
