"""Account and sender-name forms. Credential fields come from the chosen adapter."""

from __future__ import annotations

import phonenumbers
from django import forms

from core import crypto
from providers import hosts, registry
from providers.models import ProviderAccount, SenderName


class ProviderAccountForm(forms.ModelForm):
    """The account's own fields plus one field per credential the provider needs.

    Editing an account leaves secret fields empty; an empty secret keeps the stored value,
    so nobody has to retype a key to rename an account.
    """

    api_base_url = forms.URLField(
        label="API base URL",
        required=False,
        assume_scheme="https",
        help_text="Leave empty for the provider's documented host. Another host needs the leave "
        "of whoever runs this Crier.",
    )

    class Meta:
        model = ProviderAccount
        fields = ["provider", "name", "api_base_url", "currency", "allowed_countries"]
        fields += ["low_balance"]

    def __init__(self, *args, workspace, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        # Only a superuser may send an account's credentials to a host no one listed
        # (providers.hosts): a workspace is open to anyone who signs up.
        self.superuser = bool(user and user.is_superuser)
        self.instance.workspace = workspace
        editing = self.instance.pk is not None
        self.fields["provider"].choices = registry.choices()
        if editing:
            self.fields["provider"].disabled = True
            stored = self._stored_credentials()
        else:
            stored = {}
        slug = self.instance.provider or self.data.get("provider") or self.initial.get("provider")
        if slug not in registry.PROVIDERS:
            slug = next(iter(registry.PROVIDERS))  # the first's fields; validation refuses it
        self.adapter_class = registry.get(slug)
        self.fields["api_base_url"].widget.attrs["placeholder"] = (
            self.adapter_class.default_base_url or "Your tenant URL"
        )
        self.credential_names = []
        for field in self.adapter_class.credential_fields:
            name = f"cred_{field.name}"
            self.credential_names.append(name)
            keep_hint = editing and field.secret and stored.get(field.name)
            if field.choices:
                form_field = forms.ChoiceField(choices=field.choices)
            else:
                form_field = forms.CharField(
                    max_length=500,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False) if field.secret else None,
                )
            form_field.label = field.label
            form_field.required = field.required and not keep_hint
            form_field.help_text = (
                f"Stored: {crypto.mask(stored[field.name])}. Leave empty to keep it."
                if keep_hint
                else field.help_text
            )
            if not field.secret and field.name in stored:
                form_field.initial = stored[field.name]
            self.fields[name] = form_field

    def _stored_credentials(self) -> dict[str, str]:
        try:
            return self.instance.credentials
        except crypto.CredentialsUnreadable:
            return {}

    def credential_fields(self):
        return [self[name] for name in self.credential_names]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = ProviderAccount.objects.filter(workspace=self.workspace, name__iexact=name)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                f"This workspace already has an account named “{name}”. Choose another name."
            )
        return name

    def clean_api_base_url(self):
        url = self.cleaned_data["api_base_url"].strip()
        hosts.check_base_url(url, self.adapter_class, superuser=self.superuser)
        return url

    def clean(self):
        cleaned = super().clean()
        for field in self.adapter_class.credential_fields:
            name = f"cred_{field.name}"
            if field.url and cleaned.get(name):
                try:
                    hosts.check_base_url(
                        cleaned[name], self.adapter_class, superuser=self.superuser
                    )
                except forms.ValidationError as error:
                    self.add_error(name, error)
        return cleaned

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError("Use a three-letter currency code such as USD, KZT or BRL.")
        return currency

    def clean_allowed_countries(self):
        codes = [c.strip().upper() for c in self.cleaned_data["allowed_countries"].split(",")]
        codes = [c for c in codes if c]
        unknown = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise forms.ValidationError(
                f"Not a country code: {', '.join(unknown)}. Use two letters such as KZ or BR."
            )
        return ", ".join(sorted(set(codes)))

    def save(self, commit=True):
        account = super().save(commit=False)
        stored = self._stored_credentials()
        values = dict(stored)
        for field in self.adapter_class.credential_fields:
            new = self.cleaned_data.get(f"cred_{field.name}")
            if new or not field.secret:
                values[field.name] = new or ""
        account.credentials = values
        # Names only, for the audit log: the values never leave the encrypted field.
        self.changed_credentials = sorted(
            name for name in values.keys() | stored.keys() if values.get(name) != stored.get(name)
        )
        if commit:
            account.save()
        return account


class SenderNameForm(forms.ModelForm):
    class Meta:
        model = SenderName
        fields = ["account", "value", "kind", "status", "note"]

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = ProviderAccount.objects.filter(workspace=workspace)
        self.fields["account"].empty_label = None
