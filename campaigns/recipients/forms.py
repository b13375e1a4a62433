"""The forms of a recipient import (upload or paste, then the column mapping) and of the stop
list."""

from __future__ import annotations

from django import forms

from campaigns.models import ImportMode
from core import phones
from core.tables import reader

# The reader's own lists are the one source: a label the form offers is one it can read.
ENCODING_CHOICES = [("", "Detect automatically")] + [
    (label, label) for label in reader.ENCODINGS.values()
]


_DELIMITER_NAMES = {",": "Comma ,", ";": "Semicolon ;", "\t": "Tab", "|": "Pipe |"}


DELIMITER_CHOICES = [("", "Detect automatically")] + [
    (d, _DELIMITER_NAMES[d]) for d in reader.DELIMITERS
]


HEADER_CHOICES = [("", "Detect automatically"), ("yes", "Yes"), ("no", "No")]


class UploadForm(forms.Form):
    """A file or pasted numbers. Its ids are prefixed: the draft page has a message text too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_upload_%s")
        super().__init__(*args, **kwargs)

    file = forms.FileField(
        required=False,
        help_text="CSV, TXT, XLSX or XLS, up to the size your administrator allows.",
    )
    text = forms.CharField(
        label="Or paste numbers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "+7 701 123 45 67\n87017654321"}),
        help_text="One number a line, or separated by commas or semicolons. "
        "Columns are fine too, under a header such as phone;name.",
    )

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste some numbers.")
        if data.get("file") and (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste numbers, not both.")
        return data


class MappingForm(forms.Form):
    """The reader options and the phone column for an uploaded file."""

    phone_column = forms.TypedChoiceField(coerce=int, label="Phone numbers are in")
    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False)
    delimiter = forms.ChoiceField(choices=DELIMITER_CHOICES, required=False)
    quotechar = forms.CharField(max_length=1, required=False, label="Quote character")
    has_header = forms.ChoiceField(
        choices=HEADER_CHOICES, required=False, label="First row is a header"
    )
    sheet = forms.ChoiceField(required=False)
    mode = forms.ChoiceField(
        choices=ImportMode.choices, initial=ImportMode.ADD, widget=forms.RadioSelect
    )

    def __init__(self, *args, imp, sheets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone_column"].choices = [
            (i, name or f"Column {i + 1}") for i, name in enumerate(imp.columns)
        ]
        self.fields["sheet"].choices = [("", "First sheet")] + [(s, s) for s in sheets]
        if not sheets:
            del self.fields["sheet"]
        if not imp.filename.lower().endswith((".csv", ".txt")) and imp.file:
            for name in ("encoding", "delimiter", "quotechar"):
                del self.fields[name]

    def reader_options(self) -> dict:
        data = self.cleaned_data
        header = {"yes": True, "no": False}.get(data.get("has_header") or "")
        options = {key: data.get(key) for key in ("encoding", "delimiter", "quotechar", "sheet")}
        options["has_header"] = header
        return {k: v for k, v in options.items() if v is not None and v != ""}


class StopListUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, TXT, XLSX or XLS; the phone column is found for you.")
    note = forms.CharField(max_length=255, required=False)


class StopListAddForm(forms.Form):
    numbers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One number a line, or separated by commas. National numbers are read as "
        "numbers of the workspace's default country.",
    )
    note = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_numbers(self):
        raw = [
            part.strip()
            for line in self.cleaned_data["numbers"].splitlines()
            for part in line.replace(";", ",").split(",")
            if part.strip()
        ]
        results = [phones.normalise(value, self.workspace.default_country) for value in raw]
        bad = [
            value
            for value, result in zip(raw, results, strict=True)
            if not isinstance(result, phones.Normalised)
        ]
        if bad:
            raise forms.ValidationError(
                f"Not valid phone numbers: {', '.join(bad[:5])}"
                + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
                + ". Correct them and try again; nothing was added."
            )
        return list(dict.fromkeys(r.e164 for r in results))
