"""The contact book's forms: a contact (with one typed input per custom field), a field, a list
and a segment's name."""

from __future__ import annotations

import re
import zoneinfo

from django import forms
from django.template.defaultfilters import pluralize

from contacts import fields as custom
from contacts.book import zone_of
from contacts.models import Contact, ContactField, ContactList, FieldKind, Segment
from core import phones
from core.phones import Normalised

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?")
PREFIX = "f_"  # a custom field's input is named f_<key>


class ContactForm(forms.ModelForm):
    """A contact's own columns and its custom fields. The number is typed when the contact is
    created and read-only after: a contact *is* its number."""

    phone = forms.CharField(
        label="Phone number",
        max_length=40,
        help_text="In any format; a national number is read as one of the workspace's country.",
    )

    class Meta:
        model = Contact
        fields = ["name", "language", "time_zone"]
        help_texts = {"language": "A language code such as en, kk or pt-BR; optional."}

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.custom = list(ContactField.objects.filter(workspace=workspace))
        if self.instance.pk:
            self.fields["phone"].disabled = True
            self.fields["phone"].required = False
            self.fields["phone"].help_text = "A contact is its number: it cannot change."
            self.initial["phone"] = self.instance.phone
        derived = zone_of(self.instance.phone) if self.instance.phone else ""
        self.fields["time_zone"].help_text = "An IANA name such as Europe/London. Empty: " + (
            f"the number's zone, {derived}." if derived else f"the workspace's, {workspace.zone}."
        )
        for field in self.custom:
            self.fields[PREFIX + field.key] = _input_for(field)
            value = self.instance.fields.get(field.key) if self.instance.fields else None
            if value not in (None, ""):
                self.initial[PREFIX + field.key] = value

    def custom_inputs(self):
        return [self[PREFIX + field.key] for field in self.custom]

    def clean_phone(self):
        if self.instance.pk:
            return self.instance.phone
        found = phones.normalise(self.cleaned_data["phone"], self.workspace.default_country)
        if not isinstance(found, Normalised):
            raise forms.ValidationError(
                f"{found.reason} Type the whole number, for example +7 701 123 45 67."
            )
        if Contact.objects.filter(workspace=self.workspace, phone=found.e164).exists():
            raise forms.ValidationError(f"The book has a contact with {found.e164} already.")
        self.instance.country = phones.region_of(found.e164)
        return found.e164

    def clean_language(self):
        language = self.cleaned_data["language"].strip()
        if language and not _LANGUAGE.fullmatch(language):
            raise forms.ValidationError(
                f"“{language}” is not a language code. Use one such as en, kk or pt-BR."
            )
        return language

    def clean_time_zone(self):
        zone = self.cleaned_data["time_zone"].strip()
        if zone and zone not in zoneinfo.available_timezones():
            raise forms.ValidationError(
                f"“{zone}” is not a time zone. Use a name such as Europe/London or Asia/Almaty."
            )
        return zone

    def save(self, commit=True):
        contact = super().save(commit=False)
        contact.workspace = self.workspace
        contact.phone = self.cleaned_data["phone"]
        if not contact.time_zone:
            contact.time_zone = zone_of(contact.phone)
        values = dict(contact.fields or {})
        for field in self.custom:
            value = self.cleaned_data.get(PREFIX + field.key)
            if value in (None, ""):
                values.pop(field.key, None)
            else:
                values[field.key] = custom.stored(value)
        contact.fields = values
        if commit and contact._state.adding:
            contact.save()
        elif commit:
            # The form's columns only: an opt-out or a delivery written since the form read the
            # contact stays (saving them all would put back what it read).
            contact.save(update_fields=["name", "language", "time_zone", "fields", "updated_at"])
        return contact


def _input_for(field: ContactField) -> forms.Field:
    common = {"label": field.label, "required": False, "help_text": f"{{{field.key}}}"}
    if field.kind == FieldKind.NUMBER:
        return forms.DecimalField(
            max_digits=30,
            decimal_places=10,
            error_messages={"invalid": f"{field.label} takes a number, such as 42 or 3.5."},
            **common,
        )
    if field.kind == FieldKind.DATE:
        return forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"}),
            error_messages={"invalid": f"{field.label} takes a date as YYYY-MM-DD."},
            **common,
        )
    if field.kind == FieldKind.CHOICE:
        return forms.ChoiceField(
            choices=[("", "—")] + [(c, c) for c in field.choices],
            error_messages={
                "invalid_choice": f"{field.label}: choose one of " + ", ".join(field.choices) + "."
            },
            **common,
        )
    return forms.CharField(max_length=500, **common)


class FieldForm(forms.ModelForm):
    """A custom field. Its key is fixed once created (messages and contacts' values name it);
    its kind and choices may change only while no contact holds a value they would break."""

    choices_text = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For a choice: one a line.",
    )

    class Meta:
        model = ContactField
        fields = ["key", "label", "kind"]
        help_texts = {
            "key": "Letters, digits, - and _: how a message names it, as {key}.",
        }

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.instance.workspace = workspace
        if self.instance.pk:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = "Fixed: messages and contacts' values name it."
            self.initial["choices_text"] = "\n".join(self.instance.choices)

    def clean_key(self):
        key = self.cleaned_data["key"]
        if self.instance.pk:
            return self.instance.key
        if key.lower() in custom.RESERVED_KEYS:
            raise forms.ValidationError(
                f"{{{key}}} is the contact's own {key}; choose another key."
            )
        if ContactField.objects.filter(workspace=self.workspace, key=key).exists():
            raise forms.ValidationError(f"The workspace has a field {{{key}}} already.")
        count = ContactField.objects.filter(workspace=self.workspace).count()
        if count >= custom.MAX_FIELDS:
            raise forms.ValidationError(
                f"A workspace has at most {custom.MAX_FIELDS} fields; delete one you no "
                "longer use first."
            )
        return key

    def clean_choices_text(self):
        lines = [line.strip() for line in self.cleaned_data["choices_text"].splitlines()]
        choices = list(dict.fromkeys(line[:100] for line in lines if line))
        if len(choices) > custom.MAX_CHOICES:
            raise forms.ValidationError(f"A field has at most {custom.MAX_CHOICES} choices.")
        return choices

    def clean(self):
        data = super().clean()
        kind, choices = data.get("kind"), data.get("choices_text")
        if kind == FieldKind.CHOICE and choices == []:
            self.add_error("choices_text", "A choice field needs its choices, one a line.")
        if self.instance.pk and kind and not self.errors:
            self._check_change(kind, choices or [])
        return data

    def _check_change(self, kind: str, choices: list[str]) -> None:
        before = ContactField.objects.get(pk=self.instance.pk)
        if kind != before.kind:
            held = custom.holders(before)
            if held:
                self.add_error(
                    "kind",
                    f"{held:,} contact{pluralize(held)} hold{pluralize(held, 's,')} a value "
                    f"for {before.label}: its kind can change only while none does. Create a "
                    "new field instead.",
                )
        elif kind == FieldKind.CHOICE:
            for gone in set(before.choices) - set(choices):
                held = custom.holders_of_choice(before, gone)
                if held:
                    self.add_error(
                        "choices_text",
                        f"{held:,} contact{pluralize(held)} hold{pluralize(held, 's,')} "
                        f"“{gone}”: keep it among the choices.",
                    )

    def save(self, commit=True):
        field = super().save(commit=False)
        field.choices = self.cleaned_data["choices_text"] if field.kind == FieldKind.CHOICE else []
        if commit:
            field.save()
        return field


class ListForm(forms.ModelForm):
    class Meta:
        model = ContactList
        fields = ["name"]

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.workspace = workspace

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        same = ContactList.objects.filter(workspace=self.instance.workspace, name__iexact=name)
        if same.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"The workspace has a list named “{name}” already.")
        return name


class SegmentNameForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name"]

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.workspace = workspace

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        same = Segment.objects.filter(workspace=self.instance.workspace, name__iexact=name)
        if same.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"The workspace has a segment named “{name}” already.")
        return name
