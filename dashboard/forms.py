from __future__ import annotations

import secrets

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from dashboard import choices
from dashboard.models import Membership, Role, Workspace


class CodeChoiceField(forms.ChoiceField):
    """A choice of upper-case codes that also takes one sent in lower case."""

    def to_python(self, value):
        value = super().to_python(value).strip()
        return value.upper() if self.valid_value(value.upper()) else value


class WorkspaceForm(forms.ModelForm):
    default_country = CodeChoiceField(
        label="Default country",
        choices=choices.countries,
        help_text=Workspace._meta.get_field("default_country").help_text,
        error_messages={
            "invalid_choice": "“%(value)s” is not a country code Crier knows. "
            "Choose the country from the list."
        },
    )
    time_zone = forms.ChoiceField(
        choices=choices.time_zones,
        help_text="Send times are typed, and every time is shown, in this zone.",
        error_messages={
            "invalid_choice": "“%(value)s” is not a time zone. "
            "Choose one from the list, such as Europe/London or Asia/Almaty."
        },
    )
    currency = CodeChoiceField(
        choices=choices.currencies,
        help_text=Workspace._meta.get_field("currency").help_text,
        error_messages={
            "invalid_choice": "“%(value)s” is not the three-letter currency code of a "
            "currency in use. Choose one from the list."
        },
    )

    class Meta:
        model = Workspace
        fields = ["name", "default_country", "time_zone", "currency"]

    def __init__(self, *args, like: Workspace | None = None, **kwargs):
        """A new workspace starts with the country, zone and currency of ``like`` (the one the
        user is in), else the model's defaults, never the first entry of each list."""
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            model = like or Workspace()
            for name in ("default_country", "time_zone", "currency"):
                self.initial.setdefault(name, getattr(model, name))
        self.fields[
            "currency"
        ].help_text = "New provider accounts start in this currency; each account keeps its own."


class MemberAddForm(forms.Form):
    """Adds an existing user by username or e-mail, or creates the user with a one-time password."""

    identifier = forms.CharField(
        label="Username or e-mail",
        max_length=150,
        help_text="A new address gets an account; you will see its first password once.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.SENDER)

    def __init__(self, *args, workspace, grantable_roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["role"].choices = [c for c in Role.choices if c[0] in grantable_roles]
        self.new_password: str | None = None

    def clean_identifier(self):
        identifier = self.cleaned_data["identifier"].strip()
        user = (
            get_user_model()
            .objects.filter(Q(username__iexact=identifier) | Q(email__iexact=identifier))
            .first()
        )
        if user and Membership.objects.filter(user=user, workspace=self.workspace).exists():
            raise forms.ValidationError(f"{user.username} is already a member of this workspace.")
        if user is None and "@" not in identifier:
            raise forms.ValidationError(
                f"No user is called “{identifier}”. Enter their e-mail address to create one."
            )
        self.user = user
        return identifier

    def save(self) -> Membership:
        if self.user is None:
            email = self.cleaned_data["identifier"]
            self.new_password = secrets.token_urlsafe(12)
            self.user = get_user_model().objects.create_user(
                username=email.lower(), email=email, password=self.new_password
            )
        return Membership.objects.create(
            user=self.user, workspace=self.workspace, role=self.cleaned_data["role"]
        )


class MemberRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]
