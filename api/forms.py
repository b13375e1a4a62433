from django import forms

from api.models import Scope


class KeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Who or what uses it, e.g. “Shop order notifications”."
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        initial=[Scope.READ],
        error_messages={"required": "Give the key at least one scope."},
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        active = self.workspace.api_keys.filter(revoked_at__isnull=True, name__iexact=name)
        if active.exists():
            raise forms.ValidationError("An active key has this name already; choose another.")
        return name
