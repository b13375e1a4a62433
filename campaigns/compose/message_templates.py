"""Message templates: a workspace's saved texts per channel, copied into a campaign when
chosen there, and where each of their {placeholders} will take its value from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from campaigns.models import Campaign, Channel, MessageTemplate, VoiceKind
from contacts import changes
from contacts.models import ContactField
from core.columns import PLACEHOLDER, placeholders_in
from core.statuses import CampaignStatus

TEXT_MAX = 5000  # a 32-part SMS, or about half an hour of speech
PREVIEW_MAX = 140
CHOICES_SHOWN = 50  # in compose's chooser at once; a search finds the others

# Something in braces that is not a placeholder: "{first name}", "{ city }", "{имя-2}".
_BRACED = re.compile(r"\{([^{}\n]{1,60})\}")


class TemplateForm(forms.ModelForm):
    """A template's name, channel and text; the name is unique in the workspace."""

    class Meta:
        model = MessageTemplate
        fields = ["name", "channel", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 6})}
        error_messages = {
            "name": {"required": "Give the template a name."},
            "text": {"required": "Write the template's text."},
        }
        help_texts = {
            "text": "Placeholders such as {name} or {city} are filled from each recipient's "
            "contact fields or file columns.",
        }

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.workspace = workspace

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        taken = MessageTemplate.objects.filter(workspace=self.instance.workspace, name__iexact=name)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                f"The workspace has a template named “{name}” already; choose another name."
            )
        return name

    def clean_text(self):
        text = self.cleaned_data["text"]
        if len(text) > TEXT_MAX:
            raise forms.ValidationError(
                f"The text has {len(text):,} characters; a template holds at most {TEXT_MAX:,}."
            )
        return text

    def save_or_explain(self, actor, source: str) -> MessageTemplate | None:
        """Saves a valid form with its audit event (by ``actor``, made at ``source``); None,
        with an error on the name, when another member took the name in the meantime (the
        database's constraint decides)."""
        try:
            return changes.save(self, actor, source)
        except IntegrityError:
            name = self.cleaned_data["name"]
            self.add_error(
                "name", f"The workspace has a template named “{name}” already; choose another name."
            )
            return None


def offered(campaign: Campaign) -> QuerySet[MessageTemplate] | None:
    """The templates a draft may choose: its workspace's of its channel. A voice template is
    text to speech, so a voice campaign whose provider cannot speak text is offered none
    (None: the chooser is not shown)."""
    if campaign.channel == Channel.VOICE and not _speaks_text(campaign):
        return None
    return MessageTemplate.objects.filter(
        workspace_id=campaign.workspace_id, channel=campaign.channel
    )


def _speaks_text(campaign: Campaign) -> bool:
    account = campaign.account
    return account is None or VoiceKind.TTS in account.adapter_class.capabilities.voice_kinds


@dataclass(frozen=True)
class Choices:
    """What compose's chooser lists: the most used templates first, and how many more match."""

    templates: list[MessageTemplate]
    more: int


def choices(campaign: Campaign, search: str = "") -> Choices | None:
    """The templates ``offered`` to ``campaign`` whose name or text holds ``search``, at most
    CHOICES_SHOWN of them; None where none can be offered."""
    templates = offered(campaign)
    if templates is None:
        return None
    if search:
        templates = templates.filter(Q(name__icontains=search) | Q(text__icontains=search))
    shown = list(templates.order_by("-usage_count", "name")[: CHOICES_SHOWN + 1])
    more = templates.count() - CHOICES_SHOWN if len(shown) > CHOICES_SHOWN else 0
    return Choices(shown[:CHOICES_SHOWN], more)


def choose(campaign: Campaign, template: MessageTemplate) -> None:
    """Copies ``template``'s text into the draft ``campaign`` (a voice campaign then speaks
    it), records which template the campaign came from and counts one use of the template
    (choosing the same template again for the same draft is not another use). The campaign
    keeps its own copy: editing it afterwards leaves the template as it is."""
    if campaign.status != CampaignStatus.DRAFT:
        raise ValueError("Only a draft's text can change; clone the campaign to change it.")
    if template.channel != campaign.channel or template.workspace_id != campaign.workspace_id:
        raise ValueError("A campaign chooses a template of its own workspace and channel.")
    campaign.text = template.text
    update = ["text", "updated_at"]
    if campaign.channel == Channel.VOICE:
        campaign.voice_kind = VoiceKind.TTS
        update.append("voice_kind")
    with transaction.atomic():
        campaign.save(update_fields=update)
        record_use(campaign, template)


def record_use(campaign: Campaign, template: MessageTemplate) -> None:
    """The campaign came from ``template``: recorded, and one use counted unless the campaign
    had chosen it already. A template counts the campaigns that come from it: a draft that
    chose another one before no longer counts for that one (T, T2, T again counts T once)."""
    again = campaign.template_id == template.pk
    with transaction.atomic():
        if not again:
            forget(campaign)
        campaign.template = template
        campaign.save(update_fields=["template", "updated_at"])
        counted = {} if again else {"usage_count": F("usage_count") + 1}
        MessageTemplate.objects.filter(pk=template.pk).update(
            **counted, last_used_at=timezone.now()
        )


def forget(campaign: Campaign) -> None:
    """The draft no longer comes from its template (it chose another, or changed channel):
    the link is dropped (the caller saves the campaign) and the template counts one campaign
    less."""
    if campaign.template_id is None:
        return
    MessageTemplate.objects.filter(pk=campaign.template_id, usage_count__gt=0).update(
        usage_count=F("usage_count") - 1
    )
    campaign.template = None


EITHER = (
    "Give either a template or a text: the template's text becomes the campaign's, and a "
    "PATCH with text edits it afterwards."
)


def of(workspace, template_id: int, channel: str) -> MessageTemplate:
    """The workspace's template ``template_id`` for a campaign of ``channel``; ValueError
    saying what is wrong otherwise (the API's check)."""
    template = MessageTemplate.objects.filter(workspace=workspace, pk=template_id).first()
    if template is None:
        raise ValueError("No message template of this workspace has this id.")
    if template.channel != channel:
        raise ValueError(
            f"The template is for {template.get_channel_display()}, the campaign for "
            f"{Channel(channel).label}: choose a template of its channel."
        )
    return template


def edited(campaign: Campaign) -> bool:
    """Whether the campaign's text differs from the template it came from (as it is now)."""
    return campaign.template is not None and campaign.text != campaign.template.text


@dataclass(frozen=True)
class PlaceholderUse:
    """One {placeholder} of a text and where a recipient's value for it comes from."""

    name: str
    field_label: str | None = None  # of the workspace's contact field with this key, if any

    @property
    def is_contact_field(self) -> bool:
        return self.field_label is not None

    @property
    def is_contact_name(self) -> bool:
        return self.name == "name" and not self.is_contact_field


def placeholder_uses(workspace, text: str) -> list[PlaceholderUse]:
    """The placeholders of ``text`` in order of first use, each with the contact field whose
    key it names. Any other name is fine: a recipient file's column may provide it."""
    names = placeholders_in(text)
    labels = dict(
        ContactField.objects.filter(workspace=workspace, key__in=names).values_list("key", "label")
    )
    return [PlaceholderUse(name, labels.get(name)) for name in names]


def contact_field_keys(workspace, limit: int = 30) -> list[str]:
    """The keys of the workspace's contact fields, to suggest as placeholders beside {name}."""
    fields = ContactField.objects.filter(workspace=workspace).order_by("key")
    return list(fields.values_list("key", flat=True)[:limit])


def not_placeholders(text: str) -> list[str]:
    """Braced words that will be sent as they are because they are no placeholder: a
    placeholder is letters, digits and "_" only ("{first_name}", not "{first name}")."""
    found = (m.group(0) for m in _BRACED.finditer(text) if not PLACEHOLDER.fullmatch(m.group(0)))
    return list(dict.fromkeys(found))


def highlighted(text: str, limit: int = PREVIEW_MAX) -> list[tuple[str, bool]]:
    """The start of ``text`` as (piece, is_placeholder) pairs, about ``limit`` characters and
    never cutting a placeholder, so a page can mark the placeholders and escape the rest."""
    pieces: list[tuple[str, bool]] = []
    left = limit
    for index, piece in enumerate(PLACEHOLDER.split(text)):
        is_name = index % 2 == 1
        shown = "{" + piece + "}" if is_name else piece
        if len(shown) > left:
            if not is_name:
                pieces.append((shown[:left].rstrip(), False))
            pieces.append(("…", False))
            break
        if shown:
            pieces.append((shown, is_name))
        left -= len(shown)
    return pieces
