"""Admin for accounts and sender names. Credentials are never listed, and the change form
shows them masked; to change them, use the account page in the dashboard."""

from django import forms
from django.contrib import admin
from django.db import models

from providers import hosts, registry
from providers.models import ProviderAccount, Rate, SenderName


class ProviderAccountAdminForm(forms.ModelForm):
    """Staff pick an API host under the same rule as the dashboard's account form: the
    documented host, one the server lists (CRIER_PROVIDER_HOSTS), the built-in sandbox, or,
    for a superuser, any public https host (providers.hosts)."""

    superuser = False  # set per request by ProviderAccountAdmin.get_form

    class Meta:
        model = ProviderAccount
        fields = ["workspace", "provider", "name", "api_base_url", "currency"]
        fields += ["is_active", "last_error"]

    def clean(self):
        cleaned = super().clean()
        url = (cleaned.get("api_base_url") or "").strip()
        provider = cleaned.get("provider") or self.instance.provider
        if url and provider in registry.PROVIDERS:
            try:
                hosts.check_base_url(url, registry.get(provider), superuser=self.superuser)
            except forms.ValidationError as error:
                self.add_error("api_base_url", error)
        return cleaned


class SenderNameInline(admin.TabularInline):
    model = SenderName
    extra = 0


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "workspace", "currency", "balance", "is_active"]
    list_filter = ["provider", "is_active", "workspace"]
    search_fields = ["name", "workspace__name"]
    list_select_related = ["workspace"]
    readonly_fields = ["credentials_masked", "balance", "balance_checked_at", "created_at"]
    fields = [
        "workspace",
        "provider",
        "name",
        "api_base_url",
        "credentials_masked",
        "currency",
        "balance",
        "balance_checked_at",
        "is_active",
        "last_error",
        "created_at",
    ]
    inlines = [SenderNameInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    form = ProviderAccountAdminForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"superuser": request.user.is_superuser})

    def save_model(self, request, obj, form, change) -> None:
        """A new API host is where the credentials go next: audited as on the dashboard."""
        super().save_model(request, obj, form, change)
        if change and "api_base_url" in form.changed_data:
            from audit.log import record
            from audit.models import Action

            old = form.initial.get("api_base_url") or ""
            record(
                obj.workspace,
                request.user,
                Action.CREDENTIALS_CHANGED,
                f"account {obj.name}",
                fields=[],
                api_base_url={"old": old, "new": obj.api_base_url},
                via="Django admin",
            )

    @admin.display(description="Credentials")
    def credentials_masked(self, account: ProviderAccount) -> str:
        if not account.pk:
            return "Set the credentials on the account page of the dashboard."
        return ", ".join(f"{label}: {value}" for label, value in account.masked_credentials())


@admin.register(SenderName)
class SenderNameAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "status", "account", "created_at"]
    list_filter = ["status", "kind", "account__provider"]
    search_fields = ["value", "account__name", "note"]
    list_select_related = ["account"]
    list_editable = ["status"]


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    list_display = ["destination", "price", "account", "note", "updated_at"]
    list_filter = ["account__provider", "country", "account__workspace"]
    search_fields = ["country", "prefix", "note", "account__name", "account__workspace__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
