"""Forms of two-factor login (workspaces.twofactor): a code at login, the first code of a new
app, the password and a code to change anything, and the workspace's requirement."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from workspaces import twofactor
from workspaces.models import Workspace

CODE_HELP = "The 6-digit code your authenticator app shows now, or one of your recovery codes."


class LoginCodeForm(forms.Form):
    """The second step of logging in; ``device`` is the one that accepted the code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text=CODE_HELP,
        error_messages={"required": "Enter the code your authenticator app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.device = None

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        try:
            self.device = twofactor.verify(self.user, code)
        except twofactor.CodeRefused as refused:
            raise forms.ValidationError(
                wait_message(refused)
                or "That code is not right. Enter the 6-digit code your authenticator app shows "
                "now (check the phone's clock is right), or one of your recovery codes."
            ) from None
        return code


def wait_message(refused: twofactor.CodeRefused) -> str | None:
    """What to say when the code was not even checked: the device is throttled."""
    if refused.wait_until is None:
        return None
    seconds = max(1, round((refused.wait_until - timezone.now()).total_seconds()))
    return f"Too many wrong codes: wait {seconds} s, then enter the code your app shows."


class SetupCodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=16,
        help_text="Six digits, as the app shows them after you add Crier.",
        error_messages={"required": "Enter the 6-digit code the app shows for Crier."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        code = twofactor.normalise(self.cleaned_data["code"])
        if not code.isascii() or not code.isdigit() or len(code) != 6:
            raise forms.ValidationError(
                "The code has six digits, such as 123 456: enter the one the app shows for Crier."
            )
        return code


class PasswordAndCodeForm(LoginCodeForm):
    """Turning two-factor login off or replacing the recovery codes: the password and a code,
    so a session left open is not enough."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Enter your password."},
    )
    field_order = ["password", "code"]

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.fields["code"].widget.attrs.pop("autofocus")

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. Enter the one you log in with.")
        return password

    def clean_code(self) -> str:
        # A code is checked (and a recovery code used up) only after the right password.
        if self.has_error("password") or "password" not in self.cleaned_data:
            return self.cleaned_data["code"]
        return super().clean_code()


class WorkspaceTwoFactorForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = ["require_two_factor"]

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_require_two_factor(self) -> bool:
        required = self.cleaned_data["require_two_factor"]
        if required and not twofactor.is_enabled(self.owner):
            raise forms.ValidationError(
                "Set up two-factor login for yourself first (your user menu, Two-factor "
                "login), then require it of the members."
            )
        return required
