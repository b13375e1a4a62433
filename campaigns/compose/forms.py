from __future__ import annotations

import copy
import zoneinfo
from xml.etree import ElementTree

from django import forms
from django.forms.models import construct_instance
from django.utils import timezone

from campaigns.compose import outgoing
from campaigns.models import Campaign, Channel, ImportMode, VoiceKind
from campaigns.recipients import phones
from core import params
from core.tables import reader as recipients
from core.timezones import ZonedDateTimeField
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
        approved = [s.value for s in senders if s.status == SenderName.Status.APPROVED]
        channel = self.data.get("channel") or self.initial.get("channel") or self.instance.channel
        required = account and account.adapter_class.capabilities.sms_sender_required
        # "The account's default" only where the provider has one; where it has none, the first
        # approved name is chosen for you.
        if required and channel == Channel.SMS:
            blank = [] if approved else [("", "Choose a sender name")]
            if not self.initial.get("sender") and approved:
                self.initial["sender"] = approved[0]
        else:
            blank = [("", "The account's default")]
        # Pending and rejected names are listed, disabled, with the reason, so nobody wonders
        # where their sender went; only approved ones can be chosen.
        self.fields["sender"] = forms.ChoiceField(
            label="Sender name",
            required=False,
            choices=blank + [(s.value, _sender_label(s)) for s in senders],
        )
        self.disabled_senders = {s.value for s in senders if s.value not in approved}
        self.fields["sender"].widget = SelectWithDisabled(disabled=self.disabled_senders)
        self.fields["sender"].widget.choices = self.fields["sender"].choices

    def _chosen_account(self, accounts):
        key = self.data.get("account") or self.initial.get("account") or self.instance.account_id
        pk = params.whole_number(key)
        return accounts.filter(pk=pk).first() if pk else accounts.first()

    def clean_sender(self):
        sender = self.cleaned_data["sender"]
        if sender in self.disabled_senders:
            raise forms.ValidationError(
                f"“{sender}” is not approved by the provider yet; choose an approved sender name."
            )
        return sender

    def clean(self):
        data = super().clean()
        add_refusals(self, {"channel": "channel", "sender": "sender"})
        return data


def add_refusals(form: forms.ModelForm, fields: dict[str, str]) -> None:
    """What the provider would refuse of the campaign as ``form`` would save it
    (outgoing.refusals, the launch's own check), as errors on the form's fields: ``fields``
    maps a Refusal.field to one. Refusals about other steps are left to the preview."""
    campaign = construct_instance(form, copy.copy(form.instance))
    for refusal in outgoing.refusals(campaign):
        name = fields.get(refusal.field)
        if name in form.fields and name not in form.errors:
            form.add_error(name, refusal.message)


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
            "text": forms.Textarea(attrs={"rows": 5}),
            "ssml": forms.Textarea(attrs={"rows": 5, "class": "font-monospace"}),
        }
        labels = {"ssml": "SSML", "announcement_id": "Recorded announcement id"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["placeholder_policy"].required = False  # voice pages do not show it
        self.fields["placeholder_policy"].label = "When a recipient has no value for a placeholder"
        if self.instance.account is not None and self.instance.channel == Channel.VOICE:
            self._offer_only_what_the_provider_does()

    def _offer_only_what_the_provider_does(self):
        """The provider's voice kinds, and its documented voices and languages as choices with
        the first (its default) chosen; a provider that names none takes its own voice ids."""
        account = self.instance.account
        caps = account.adapter_class.capabilities
        kinds = [(k, label) for k, label in VoiceKind.choices if k in caps.voice_kinds]
        for kind, name in ((VoiceKind.SSML, "ssml"), (VoiceKind.ANNOUNCEMENT, "announcement_id")):
            if kind not in caps.voice_kinds:
                del self.fields[name]
        self.fields["text"].help_text = "What the voice reads out, for text to speech."
        self.fields["voice_kind"] = forms.ChoiceField(
            label="Kind of message", choices=kinds, initial=kinds[0][0] if kinds else ""
        )
        for name, choices, label in (
            ("voice", caps.voices, "Voice"),
            ("language", caps.voice_languages, "Language"),
            ("voice_category", caps.voice_categories, "What the call is for"),
        ):
            if choices:
                # A blank category goes as marketing (campaigns.compose.outgoing); voice and
                # language have no safe default at the provider, so they are required.
                required = name != "voice_category"
                self.fields[name] = forms.ChoiceField(
                    label=label, choices=choices, required=required
                )
                if getattr(self.instance, name) not in dict(choices):
                    self.initial[name] = choices[0][0]
            elif name != "voice":
                del self.fields[name]
        if not caps.voices:
            self.fields["voice"].label = "Voice definition id"
            self.fields["voice"].help_text = (
                f"Optional: the id of a {account.get_provider_display()} voice definition; "
                "blank uses the campaign's own voice there."
            )

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
        if self.instance.channel == Channel.SMS:
            if not (data.get("text") or "").strip():
                self.add_error("text", "Write the message to send.")
        else:
            kind = data.get("voice_kind") or VoiceKind.TTS
            needed = {"tts": "text", "ssml": "ssml", "announcement": "announcement_id"}[kind]
            if not (data.get(needed) or "").strip():
                self.add_error(needed, "Fill this in for the kind of voice message you chose.")
            data["voice_kind"] = kind
        fields = ("text", "voice_kind", "voice", "language")
        add_refusals(self, {name: name for name in fields} | {"flash": "text"})
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
        self._offer_only_what_the_provider_does()

    def _offer_only_what_the_provider_does(self):
        caps = self.capabilities
        if not caps.flash or self.instance.channel != Channel.SMS:
            del self.fields["flash"]
        low, high = caps.min_validity, caps.max_validity
        if low is None and high is None:
            del self.fields["validity_minutes"]
            return
        field = self.fields["validity_minutes"]
        low_minutes = int(low.total_seconds() // 60) if low else 1
        field.widget.attrs["min"] = low_minutes
        if high:
            field.widget.attrs["max"] = int(high.total_seconds() // 60)
            field.help_text = f"{self.provider}: {low_minutes} to {field.widget.attrs['max']}."

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

    def clean(self):
        data = super().clean()
        add_refusals(self, {"validity": "validity_minutes", "flash": "flash"})
        if bool(data.get("rate_limit")) != bool(data.get("rate_period")):
            raise forms.ValidationError(
                "A rate limit needs both a number of messages and a period."
            )
        return data

    def save(self, commit=True):
        self.instance.start_at = self.cleaned_data.get("send_at")
        return super().save(commit)
