from __future__ import annotations

import zoneinfo
from xml.etree import ElementTree

from django import forms
from django.utils import timezone

from campaigns import phones, recipients
from campaigns.models import Campaign, ImportMode
from dashboard.timezones import ZonedDateTimeField
from providers.models import ProviderAccount, SenderName

# The reader's own lists are the one source: a label the form offers is one it can read.
ENCODING_CHOICES = [("", "Detect automatically")] + [
    (label, label) for label in recipients.ENCODINGS.values()
]
_DELIMITER_NAMES = {",": "Comma ,", ";": "Semicolon ;", "\t": "Tab", "|": "Pipe |"}
DELIMITER_CHOICES = [("", "Detect automatically")] + [
    (d, _DELIMITER_NAMES[d]) for d in recipients.DELIMITERS
]
HEADER_CHOICES = [("", "Detect automatically"), ("yes", "Yes"), ("no", "No")]


class CampaignCreateForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "channel", "account"]

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = ProviderAccount.objects.filter(
            workspace=workspace, is_active=True
        )
        self.fields["account"].required = True
        self.fields["account"].empty_label = None
        self.instance.workspace = workspace


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


class SetupForm(forms.ModelForm):
    """Step 1: channel, provider account and sender name."""

    class Meta:
        model = Campaign
        fields = ["name", "channel", "account", "sender"]

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = ProviderAccount.objects.filter(workspace=workspace, is_active=True)
        self.fields["account"].queryset = accounts
        self.fields["account"].required = True
        self.fields["account"].empty_label = None
        account = self._chosen_account(accounts)
        senders = account.senders.order_by("value") if account else SenderName.objects.none()
        # Pending and rejected names are listed, disabled, with the reason, so nobody wonders
        # where their sender went; only approved ones can be chosen.
        self.fields["sender"] = forms.ChoiceField(
            label="Sender name",
            required=False,
            choices=[("", "The account's default")]
            + [(s.value, _sender_label(s)) for s in senders],
        )
        self.disabled_senders = {s.value for s in senders if s.status != SenderName.Status.APPROVED}
        self.fields["sender"].widget = SelectWithDisabled(disabled=self.disabled_senders)
        self.fields["sender"].widget.choices = self.fields["sender"].choices

    def _chosen_account(self, accounts):
        key = self.data.get("account") or self.initial.get("account") or self.instance.account_id
        return accounts.filter(pk=key).first() if str(key or "").isdigit() else accounts.first()

    def clean_sender(self):
        sender = self.cleaned_data["sender"]
        if sender in self.disabled_senders:
            raise forms.ValidationError(
                f"“{sender}” is not approved by the provider yet; choose an approved sender name."
            )
        return sender

    def clean(self):
        data = super().clean()
        account, channel = data.get("account"), data.get("channel")
        caps = account.adapter_class.capabilities if account else None
        if caps and channel == "sms" and caps.sms_sender_required and not data.get("sender"):
            self.add_error(
                "sender",
                f"{account.get_provider_display()} needs a sender name on every SMS: "
                "choose an approved one.",
            )
        if account and channel and channel not in account.adapter_class.capabilities.channels:
            self.add_error(
                "channel",
                f"{account.get_provider_display()} does not send {channel} campaigns; "
                "choose another account or channel.",
            )
        return data


class SelectWithDisabled(forms.Select):
    """A select whose listed-but-unavailable options are greyed out."""

    def __init__(self, *args, disabled=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.disabled = set(disabled)

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value in self.disabled:
            option["attrs"]["disabled"] = True
        return option


def _sender_label(sender: SenderName) -> str:
    if sender.status == SenderName.Status.APPROVED:
        return sender.value
    why = f": {sender.note}" if sender.note else ""
    return f"{sender.value} — {sender.get_status_display().lower()}{why}"


class MessageForm(forms.ModelForm):
    """Step 2: the SMS text, or what a voice call says."""

    class Meta:
        model = Campaign
        fields = [
            "text",
            "placeholder_policy",
            "voice_kind",
            "ssml",
            "announcement_id",
            "voice",
            "language",
            "voice_category",
        ]
        widgets = {
            "voice_category": forms.Select(
                choices=[
                    ("", "—"),
                    ("marketing", "Marketing"),
                    ("transactional", "Transactional"),
                    ("otp", "One-time password"),
                ]
            ),
            "text": forms.Textarea(attrs={"rows": 5}),
            "ssml": forms.Textarea(attrs={"rows": 5, "class": "font-monospace"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["placeholder_policy"].required = False  # voice pages do not show it
        self.fields["placeholder_policy"].label = "When a recipient has no value for a placeholder"

    def clean_placeholder_policy(self):
        return self.cleaned_data["placeholder_policy"] or self.instance.placeholder_policy

    def clean_ssml(self):
        ssml = self.cleaned_data["ssml"].strip()
        if ssml and self.data.get("voice_kind") == "ssml":
            if "<!DOCTYPE" in ssml.upper() or "<!ENTITY" in ssml.upper():
                raise forms.ValidationError("SSML may not declare a DOCTYPE or entities.")
            try:
                ElementTree.fromstring(ssml)
            except ElementTree.ParseError as exc:
                line, column = exc.position
                raise forms.ValidationError(
                    f"The SSML is not well-formed XML: {exc.msg.split(':')[0]} at line {line}, "
                    f"column {column + 1}."
                ) from None
        return ssml

    def clean(self):
        data = super().clean()
        if self.instance.channel == "sms":
            if not (data.get("text") or "").strip():
                self.add_error("text", "Write the message to send.")
            return data
        kind = data.get("voice_kind") or "tts"
        needed = {"tts": "text", "ssml": "ssml", "announcement": "announcement_id"}[kind]
        if not (data.get(needed) or "").strip():
            self.add_error(needed, "Fill this in for the kind of voice message you chose.")
        data["voice_kind"] = kind
        return data


class OptionsForm(forms.ModelForm):
    """Step 4: when, how fast, how long to keep trying, flash."""

    send_at = ZonedDateTimeField(
        label="Send at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: send as soon as you launch.",
    )

    class Meta:
        model = Campaign
        fields = ["rate_limit", "rate_period", "validity_minutes", "flash"]
        labels = {
            "rate_limit": "At most this many messages",
            "rate_period": "Per",
            "validity_minutes": "Keep trying for (minutes)",
        }
        help_texts = {"rate_period": ""}
        widgets = {
            "rate_period": forms.Select(
                choices=[("", "—"), (60, "minute"), (3600, "hour"), (86400, "day")]
            )
        }

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zoneinfo.ZoneInfo(workspace.time_zone)
        self.fields["send_at"].set_zone(self.zone)
        if self.instance.start_at:
            self.initial["send_at"] = self.instance.start_at.astimezone(self.zone).replace(
                tzinfo=None
            )
        self.capabilities = self.instance.account.adapter_class.capabilities
        self.provider = self.instance.account.get_provider_display()

    def clean_send_at(self):
        value = self.cleaned_data["send_at"]
        if value is None:
            return None
        now = timezone.now()
        if value <= now:
            raise forms.ValidationError(
                f"This time has passed: it is {now.astimezone(self.zone):%Y-%m-%d %H:%M} in "
                f"{self.zone} now. Choose a time in the future."
            )
        caps = self.capabilities
        if caps.max_lead_time and value - timezone.now() > caps.max_lead_time:
            raise forms.ValidationError(
                f"{self.provider} schedules at most {caps.max_lead_time.days} days ahead."
            )
        return value

    def clean_validity_minutes(self):
        minutes = self.cleaned_data["validity_minutes"]
        if minutes is None:
            return None
        low, high = self.capabilities.min_validity, self.capabilities.max_validity
        if low is None and high is None:
            raise forms.ValidationError(f"{self.provider} does not let you set a validity.")
        if (low and minutes * 60 < low.total_seconds()) or (
            high and minutes * 60 > high.total_seconds()
        ):
            raise forms.ValidationError(
                f"{self.provider} keeps trying for {int(low.total_seconds() // 60)} to "
                f"{int(high.total_seconds() // 60)} minutes."
            )
        return minutes

    def clean_flash(self):
        flash = self.cleaned_data["flash"]
        if flash and not self.capabilities.flash:
            raise forms.ValidationError(f"{self.provider} does not send flash SMS.")
        return flash

    def clean(self):
        data = super().clean()
        if bool(data.get("rate_limit")) != bool(data.get("rate_period")):
            raise forms.ValidationError(
                "A rate limit needs both a number of messages and a period."
            )
        return data

    def save(self, commit=True):
        self.instance.start_at = self.cleaned_data.get("send_at")
        return super().save(commit)
