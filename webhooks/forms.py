from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from webhooks import delivery
from webhooks.models import SUBSCRIBABLE, Endpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=SUBSCRIBABLE,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send to this endpoint."},
    )

    class Meta:
        model = Endpoint
        fields = ["url", "description", "event_types", "enabled"]
        help_texts = {
            "url": "Crier POSTs each event here as JSON, signed (docs/webhooks.md).",
            "enabled": "A disabled endpoint is sent nothing; Crier disables one that keeps "
            "failing.",
        }

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        try:
            delivery.check_url(url)
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        return url

    def save(self, commit: bool = True) -> Endpoint:
        endpoint = super().save(commit=False)
        if "enabled" in self.changed_data and endpoint.enabled:
            endpoint.failing_since, endpoint.disabled_reason = None, ""  # a fresh start
        if commit:
            endpoint.save()
        return endpoint
