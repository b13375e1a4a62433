"""Compose step 4's timing fields (campaigns.windows): the campaign's own sending window, a
send time in each recipient's zone, a deadline, and a spread over hours instead of a rate.
Mixed into OptionsForm, whose Meta lists WINDOW_FIELDS (``deadline`` is a zoned field the
form declares itself)."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from workspaces.forms import clean_window

WINDOW_FIELDS = ["spread_hours", "send_window", "send_at_local", "deadline"]
WINDOW_LABELS = {
    "spread_hours": "Or spread evenly over (hours)",
    "send_window": "Sending window",
    "send_at_local": "Send at, in each recipient's time",
}
WINDOW_HELP = {
    "spread_hours": "Hours of open window over which all messages go.",
    "send_window": "Empty: the workspace's. “always”: any time. "
    "For example “Mon-Fri 09:00-20:00; Sat 10:00-18:00”.",
    "send_at_local": "For example 10:00: each recipient gets it at 10:00 their time.",
}
WINDOW_WIDGETS = {
    "send_window": forms.TextInput(),
    "send_at_local": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    "spread_hours": forms.NumberInput(attrs={"min": 1, "max": 720}),
}
WINDOW_ERRORS = {
    "send_at_local": {"invalid": "Send at, in each recipient's time: write a time as HH:MM."},
    "spread_hours": {"invalid": "Spread evenly over: write a whole number of hours."},
}


class WindowFields:
    """The checks of the timing fields of a campaign's ModelForm."""

    def clean_send_window(self):
        return clean_window(self.cleaned_data["send_window"], "Sending window")

    def clean_spread_hours(self):
        hours = self.cleaned_data["spread_hours"]
        if hours is not None and not 1 <= hours <= 720:
            raise forms.ValidationError("Spread evenly over: from 1 to 720 hours (30 days).")
        return hours

    def clean_deadline(self):
        value = self.cleaned_data["deadline"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Don't send after: this time has passed.")
        return value

    def _clean_windows(self, data: dict) -> None:
        if data.get("rate_limit") and data.get("spread_hours"):
            self.add_error(
                "spread_hours",
                "Spread evenly over: choose either a rate limit or a spread, not both.",
            )
        start, deadline = data.get("send_at"), data.get("deadline")
        if start and deadline and deadline <= start:
            self.add_error("deadline", "Don't send after: it must be after the send time.")
