from django.contrib import admin
from django.db.models import F

from providers.sandbox.models import (
    Charge,
    SandboxAccount,
    SandboxCampaign,
    SandboxMessage,
    SenderName,
)


class SenderNameInline(admin.TabularInline):
    model = SenderName
    extra = 0


@admin.register(SandboxAccount)
class SandboxAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "balance", "currency", "request_count", "created_at"]
    list_filter = ["provider"]
    readonly_fields = ["request_count", "early_requests", "created_at"]
    inlines = [SenderNameInline]
    actions = ["revoke_tokens", "clear_faults"]
    fieldsets = [
        (None, {"fields": ["provider", "name", "balance", "currency", "request_count"]}),
        ("Credentials", {"fields": ["api_key", "domain", "email", "password", "token_version"]}),
        (
            "Fault knobs",
            {
                "fields": [
                    "rate_limit_every_n",
                    "retry_after",
                    "error_burst",
                    "errors_until",
                    "slow_seconds",
                    "slow_accept_seconds",
                    "hang",
                    "malformed_json",
                    "crash_after_accept",
                    "crash_after_accept_every_n",
                    "early_requests",
                ]
            },
        ),
    ]

    @admin.action(description="Revoke bearer tokens (clients must log in again)")
    def revoke_tokens(self, request, queryset):
        queryset.update(token_version=F("token_version") + 1)

    @admin.action(description="Clear every fault knob")
    def clear_faults(self, request, queryset):
        queryset.update(
            rate_limit_every_n=0,
            error_burst=0,
            slow_seconds=0,
            slow_accept_seconds=0,
            hang=False,
            malformed_json=False,
            crash_after_accept=False,
            crash_after_accept_every_n=0,
            errors_until=None,
            retry_not_before=None,
        )


@admin.register(SenderName)
class SenderNameAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "status", "country"]
    list_filter = ["status", "account__provider"]


@admin.register(SandboxCampaign)
class SandboxCampaignAdmin(admin.ModelAdmin):
    list_display = ["pk", "external_id", "account", "name", "sender", "channel", "created_at"]
    list_filter = ["account__provider", "channel"]
    search_fields = ["name", "external_id"]


@admin.register(SandboxMessage)
class SandboxMessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "reference", "phone", "campaign", "segments", "price", "accepted_at"]
    list_filter = ["campaign__account__provider"]
    search_fields = ["reference", "phone"]
    raw_id_fields = ["campaign"]


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    """The ledger is evidence: it is read, never edited."""

    list_display = ["reference", "phone", "amount", "account", "created_at", "refunded_at"]
    list_filter = ["account__provider", "account"]
    search_fields = ["reference", "phone"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
