from __future__ import annotations

import copy
import zoneinfo
from xml.etree import ElementTree

from django import forms
from django.forms.models import construct_instance
from django.utils import timezone

from campaigns.compose import message_templates, outgoing
from campaigns.compose.failover_fields import (
    FAILOVER_FIELDS,
    FAILOVER_HELP,
    FAILOVER_LABELS,
    FailoverFields,
)
from campaigns.compose.window_fields import (
    WINDOW_ERRORS,
    WINDOW_FIELDS,
    WINDOW_HELP,
    WINDOW_LABELS,
    WINDOW_WIDGETS,
    WindowFields,
)
from campaigns.models import Campaign, Channel, VoiceKind
from contacts.models import ContactList, Segment
from core import params
from core.timezones import ZonedDateTimeField
from providers.models import ProviderAccount, SenderName


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

    def save(self, commit=True):
        campaign = super().save(commit=False)
        template = campaign.template if campaign.template_id else None
        if template is not None and template.channel != campaign.channel:
            # A template of the other channel is no longer where the text came from.
            message_templates.forget(campaign)
        if commit:
            campaign.save()
            self._save_m2m()
        return campaign


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


class OptionsForm(WindowFields, FailoverFields, forms.ModelForm):
    """Step 4: when, how fast, how long to keep trying, flash, the cheapest route, and the
    backup account."""

    send_at = ZonedDateTimeField(
        label="Send at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: send as soon as you launch.",
    )

    deadline = ZonedDateTimeField(
        label="Don't send after",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Messages not handed over by then expire unsent.",
    )

    class Meta:
        model = Campaign
        fields = [
            "rate_limit",
            "rate_period",
            *WINDOW_FIELDS,
            "validity_minutes",
            "flash",
            "cheapest_route",
            *FAILOVER_FIELDS,
        ]
        labels = {
            "rate_limit": "At most this many messages",
            "rate_period": "Per",
            **WINDOW_LABELS,
            "validity_minutes": "Keep trying for (minutes)",
            **FAILOVER_LABELS,
        }
        help_texts = {
            "rate_period": "",
            **WINDOW_HELP,
            **FAILOVER_HELP,
        }
        widgets = {
            "rate_period": forms.Select(
                choices=[("", "—"), (60, "minute"), (3600, "hour"), (86400, "day")]
            ),
            **WINDOW_WIDGETS,
        }
        error_messages = WINDOW_ERRORS

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zoneinfo.ZoneInfo(workspace.time_zone)
        self.fields["send_at"].set_zone(self.zone)
        self.fields["deadline"].set_zone(self.zone)
        if self.instance.start_at:
            self.initial["send_at"] = self.instance.start_at.astimezone(self.zone).replace(
                tzinfo=None
            )
        self.capabilities = self.instance.account.adapter_class.capabilities
        self.provider = self.instance.account.get_provider_display()
        self._offer_only_what_the_provider_does()
        self.offer_backups(workspace)

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
        self._clean_failover(data)
        add_refusals(self, {"validity": "validity_minutes", "flash": "flash"})
        if bool(data.get("rate_limit")) != bool(data.get("rate_period")):
            raise forms.ValidationError(
                "A rate limit needs both a number of messages and a period."
            )
        self._clean_windows(data)
        return data

    def save(self, commit=True):
        self.instance.start_at = self.cleaned_data.get("send_at")
        return super().save(commit)


class AudienceForm(forms.ModelForm):
    """Step 3 from the contact book: the lists and segments a campaign draws on, and the lists
    whose members it leaves out (campaigns.audiences)."""

    class Meta:
        model = Campaign
        fields = ["audience_lists", "audience_segments", "exclusion_lists"]
        labels = {
            "audience_lists": "Lists",
            "audience_segments": "Segments",
            "exclusion_lists": "Leave out the members of",
        }

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        lists = ContactList.objects.filter(workspace=workspace)
        querysets = {
            "audience_lists": lists,
            "audience_segments": Segment.objects.filter(workspace=workspace),
            "exclusion_lists": lists,
        }
        for name, queryset in querysets.items():
            field = self.fields[name]
            field.queryset = queryset
            field.required = False
            field.widget = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
            field.widget.choices = field.choices

    def clean(self):
        data = super().clean()
        both = set(data.get("audience_lists") or ()) & set(data.get("exclusion_lists") or ())
        if both:
            names = ", ".join(f"“{item}”" for item in sorted(both, key=str))
            raise forms.ValidationError(
                f"{names} is both drawn on and left out, so none of its members would get the "
                "message: untick it on one side."
            )
        return data
