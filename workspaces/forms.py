from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.template.defaultfilters import pluralize

from core import choices, windows
from workspaces import members
from workspaces.models import Membership, Role, Workspace


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
        fields = ["name", "default_country", "time_zone", "currency", "send_window", "holidays"]
        widgets = {
            "send_window": forms.Textarea(attrs={"rows": 2}),
            "holidays": forms.Textarea(attrs={"rows": 2}),
        }

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

    def clean_send_window(self) -> str:
        return clean_window(self.cleaned_data["send_window"], "Sending window")

    def clean_holidays(self) -> str:
        return clean_holidays(self.cleaned_data["holidays"])


def clean_window(text: str, label: str) -> str:
    """A window as written, once it reads (core.windows), else its error naming the field."""
    try:
        window = windows.parse(text)
    except windows.WindowError as error:
        raise forms.ValidationError(f"{label}: {error}", code="window") from None
    if window is not None and not any(window.days):
        raise forms.ValidationError(f"{label}: it opens on no day.", code="window")
    return text.strip()


def clean_holidays(text: str) -> str:
    try:
        days = windows.parse_holidays(text)
    except windows.WindowError as error:
        raise forms.ValidationError(f"Holidays: {error}", code="holidays") from None
    return ", ".join(day.isoformat() for day in sorted(days))


class InvitationForm(forms.Form):
    """An address to e-mail an invitation to, and the role it grants."""

    email = forms.EmailField(
        label="E-mail address",
        error_messages={
            "required": "Enter the e-mail address to send the invitation to.",
            "invalid": "Enter a whole e-mail address, such as name@example.com.",
        },
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.SENDER)

    def __init__(self, *args, workspace, grantable_roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["role"].choices = [c for c in Role.choices if c[0] in grantable_roles]
        days = settings.CRIER_INVITATION_DAYS
        self.fields["email"].help_text = (
            f"They get a link to join, valid for {days} day{pluralize(days)}; "
            "without a Crier account they create one from it."
        )

    def clean_email(self):
        email = self.cleaned_data["email"]
        if members.is_member_address(self.workspace, email):
            raise forms.ValidationError(f"{email} is already a member of this workspace.")
        return email


class SignUpForm(UserCreationForm):
    """A new account made from an invitation link: a username, the e-mail (the invited one to
    start with) and a password held to AUTH_PASSWORD_VALIDATORS."""

    class Meta(UserCreationForm.Meta):
        fields = ["username", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].label = "E-mail address"


class MemberRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]
