"""The forms of a contact import: upload or paste, the column mapping (with new fields made
inline), and where the contacts go."""

from __future__ import annotations

from django import forms

from contacts import mapping
from contacts.models import MAPPING_TARGETS, ContactField, ContactList, ListAction, UpsertMode
from core.tables import reader

ENCODING_CHOICES = [("", "Detect automatically")] + [
    (label, label) for label in reader.ENCODINGS.values()
]
_DELIMITER_NAMES = {",": "Comma ,", ";": "Semicolon ;", "\t": "Tab", "|": "Pipe |"}
DELIMITER_CHOICES = [("", "Detect automatically")] + [
    (d, _DELIMITER_NAMES[d]) for d in reader.DELIMITERS
]
HEADER_CHOICES = [("", "Detect automatically"), ("yes", "Yes"), ("no", "No")]
NEW = "new"


class UploadForm(forms.Form):
    file = forms.FileField(
        required=False,
        help_text="CSV, TXT, XLSX or XLS with a column of phone numbers, up to the size your "
        "administrator allows.",
    )
    text = forms.CharField(
        label="Or paste contacts",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "phone;name;city\n+7 701 123 45 67;Aigerim;Almaty"}
        ),
        help_text="One contact a line, columns separated by commas, semicolons or tabs, under "
        "a header row.",
    )

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste some contacts.")
        if data.get("file") and (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste contacts, not both.")
        return data


class MappingForm(forms.Form):
    """Reader options, then for every column ``map_<i>`` (a MAPPING_TARGETS key, "field:<key>"
    or "new") with ``label_<i>`` and ``kind_<i>`` for a new field; then the upsert mode and the
    list the contacts go to."""

    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False)
    delimiter = forms.ChoiceField(choices=DELIMITER_CHOICES, required=False)
    quotechar = forms.CharField(max_length=1, required=False, label="Quote character")
    has_header = forms.ChoiceField(
        choices=HEADER_CHOICES, required=False, label="First row is a header"
    )
    sheet = forms.ChoiceField(required=False)
    upsert = forms.ChoiceField(
        label="Contacts already in the book",
        choices=UpsertMode.choices,
        initial=UpsertMode.UPDATE,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    list_action = forms.ChoiceField(
        label="Lists",
        choices=ListAction.choices,
        initial=ListAction.NONE,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    contact_list = forms.ModelChoiceField(
        queryset=ContactList.objects.none(),
        required=False,
        empty_label="A new list…",
        label="List",
    )
    new_list_name = forms.CharField(max_length=200, required=False, label="New list's name")

    def __init__(self, *args, imp, sheets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.imp = imp
        existing = list(ContactField.objects.filter(workspace=imp.workspace))
        targets = [
            ("ignore", MAPPING_TARGETS["ignore"]),
            *((k, v) for k, v in MAPPING_TARGETS.items() if k != "ignore"),
            *((f"field:{f.key}", f"Field: {f.label}") for f in existing),
            (NEW, "A new field…"),
        ]
        self.column_rows = []
        for index, header in enumerate(imp.columns):
            self.fields[f"map_{index}"] = forms.ChoiceField(
                choices=targets, label=header or f"Column {index + 1}"
            )
            self.fields[f"label_{index}"] = forms.CharField(
                max_length=100, required=False, label="Field name"
            )
            self.fields[f"kind_{index}"] = forms.ChoiceField(
                choices=mapping.NEW_FIELD_KINDS, required=False, label="Holds"
            )
        self.fields["contact_list"].queryset = ContactList.objects.filter(workspace=imp.workspace)
        self.fields["sheet"].choices = [("", "First sheet")] + [(s, s) for s in sheets]
        if not sheets:
            del self.fields["sheet"]
        if imp.file and not imp.filename.lower().endswith((".csv", ".txt")):
            for name in ("encoding", "delimiter", "quotechar"):
                del self.fields[name]

    @staticmethod
    def initial_for(imp) -> dict:
        options = imp.options or {}
        initial = {
            **{k: options.get(k, "") for k in ("encoding", "delimiter", "quotechar", "sheet")},
            "has_header": {True: "yes", False: "no"}.get(options.get("has_header"), ""),
            "upsert": imp.upsert,
            "list_action": imp.list_action,
            "contact_list": imp.contact_list_id,
            "new_list_name": imp.new_list_name,
        }
        for index, target in enumerate(imp.mapping):
            kind, _, key = target.partition(":")
            spec = imp.new_fields.get(key, {}) if kind == NEW else {}
            initial[f"map_{index}"] = NEW if kind == NEW else target
            initial[f"label_{index}"] = spec.get("label") or imp.columns[index]
            initial[f"kind_{index}"] = spec.get("kind", "text")
        return initial

    def columns(self):
        """(index, header, samples, select, label input, kind select, is new) per column."""
        rows = []
        for index, header in enumerate(self.imp.columns):
            samples = [
                row["cells"][index]
                for row in self.imp.preview[:3]
                if index < len(row["cells"]) and row["cells"][index].strip()
            ]
            chosen = self[f"map_{index}"].value()
            rows.append(
                (
                    index,
                    header,
                    samples,
                    self[f"map_{index}"],
                    self[f"label_{index}"],
                    self[f"kind_{index}"],
                    chosen == NEW,
                )
            )
        return rows

    def reader_options(self) -> dict:
        data = self.cleaned_data
        header = {"yes": True, "no": False}.get(data.get("has_header") or "")
        options = {key: data.get(key) for key in ("encoding", "delimiter", "quotechar", "sheet")}
        options["has_header"] = header
        return {k: v for k, v in options.items() if v is not None and v != ""}

    def mapping(self) -> tuple[list[str], dict]:
        """The mapping and new fields the form describes (mapping.problems checks
        them)."""
        targets, new_fields = [], {}
        for index, header in enumerate(self.imp.columns):
            target = self.cleaned_data.get(f"map_{index}") or "ignore"
            if target == NEW:
                label = (self.cleaned_data.get(f"label_{index}") or header).strip()
                key = mapping.field_key(label)
                new_fields[key] = {
                    "label": label[:100],
                    "kind": self.cleaned_data.get(f"kind_{index}") or "text",
                }
                target = f"new:{key}"
            targets.append(target)
        return targets, new_fields
