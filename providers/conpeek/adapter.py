"""Conpeek voice SMS: the raw key in Authorization, requests added to an existing campaign.

Only ``POST /voice_sms_campaign/{id}/request_list`` is documented (README.md §5), so
this adapter submits and nothing else: no balance, statistics or per-request status.
[INFERRED] choices where the document is silent:
- The request ``type`` is per call: ``announcement`` when there is an announcement id, ``tts``
  when there is text or SSML, else ``none``; a batch must share it.
- Our reference travels in each contact's ``custom`` object as ``{"reference": …}``.
- Contact numbers are digits without "+", like the documented ``48987654321``.
- The 200 answer's items are matched to our contacts by position and their ``id`` is kept when
  present (the VoiceSMSCampaignRequest schema is undocumented).
- 401 is treated like the documented 403.
- Tracking: no statistics and no per-request status, so every accepted request stays "queued";
  once CRIER_POLL_UNTRACKED_SECONDS have passed since the batch went out, campaigns.tracking.polling
  writes the ones still open down as "unknown" (we cannot tell a delivered call from a missed
  one) and completes the campaign. Honest, not hopeful: the figures never claim a delivery.
"""

from __future__ import annotations

from datetime import timedelta

from providers.base import (
    Capabilities,
    CredentialField,
    ProviderAdapter,
    Submission,
    SubmitResult,
)
from providers.errors import AuthError, InvalidRequest, NotFound


class ConpeekAdapter(ProviderAdapter):
    slug = "conpeek"
    label = "Conpeek"
    # Conpeek has no shared host: every tenant has its own URL.
    default_base_url = ""
    documented_hosts = ("*.conpeek.com",)  # https://<tenant>.conpeek.com, as its docs show
    credential_fields = (
        CredentialField("api_key", "API key"),
        CredentialField(
            "tenant_url",
            "Tenant URL",
            secret=False,
            url=True,
            help_text="Your Conpeek address, for example https://yourcompany.conpeek.com",
        ),
        CredentialField("voice_campaign_id", "Voice SMS campaign id", secret=False),
    )
    capabilities = Capabilities(
        channels=frozenset({"voice"}),
        personalised_text=True,
        personalised_voice=True,  # each request_list item has its own text
        max_batch_size=1_000,  # [INFERRED] no documented limit
        campaign_stats=False,
        account_info=False,
        scheduling=False,
        # type tts (text or ssml) or announcement; voice_definition_id is the tenant's own id.
        voice_kinds=frozenset({"tts", "ssml", "announcement"}),
        # Nothing to ask: tracking only waits out CRIER_POLL_UNTRACKED_SECONDS, after which
        # the requests still "queued" become "unknown" (Conpeek documents no status API).
        poll_interval=timedelta(seconds=30),
    )

    @classmethod
    def resolve_base_url(cls, credentials: dict[str, str]) -> str:
        return credentials.get("tenant_url", "")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self.credentials.get("api_key", "")}

    def raise_for_response(self, response):
        if response.status_code in (401, 403):
            raise AuthError(
                "Conpeek refused this action: check the API key and that the voice SMS "
                "campaign is active and allowed for this key.",
                code=response.status_code,
            )
        if response.status_code == 404:
            raise NotFound(
                "Conpeek has no voice SMS campaign with the id set on this account "
                "(or no such recording): check the campaign id.",
                code=404,
            )
        super().raise_for_response(response)

    def submit(self, spec, messages, state):
        self.check_batch(messages, spec)
        campaign_id = state.provider_campaign_id or self.credentials.get("voice_campaign_id", "")
        voices = [m.voice or spec.voice for m in messages]
        if any(voice is None for voice in voices):
            raise InvalidRequest("A voice message needs a text or a recording.", field="voice")
        kinds = {(_kind(voice), voice.announcement_id) for voice in voices}
        if len(kinds) != 1:
            raise InvalidRequest(
                "One Conpeek batch plays one recording or reads texts, not a mix.", field="voice"
            )
        kind, announcement_id = kinds.pop()
        body = {
            "type": kind,
            "data": [_contact(m, v) for m, v in zip(messages, voices, strict=True)],
        }
        if kind == "announcement":
            body["announcement_id"] = announcement_id
        path = f"/voice_sms_campaign/{campaign_id}/request_list"
        items = (self.call("POST", path, json=body, sends=True) or {}).get("data") or []
        state.created(campaign_id)
        return Submission(
            provider_campaign_id=campaign_id,
            results=[
                SubmitResult(m.reference, True, str(_item_id(items, index)))
                for index, m in enumerate(messages)
            ],
        )


def _kind(voice) -> str:
    if voice.announcement_id:
        return "announcement"
    return "tts" if voice.text or voice.ssml else "none"


def _contact(message, voice) -> dict:
    contact = {"contact_number": message.digits}
    if voice.ssml:
        contact["ssml"] = voice.ssml
    elif voice.text:
        contact["text"] = voice.text
    if voice.voice:
        contact["voice_definition_id"] = voice.voice
    return contact | {"custom": {"reference": message.reference}}


def _item_id(items: list, index: int) -> str:
    item = items[index] if index < len(items) and isinstance(items[index], dict) else {}
    return str(item.get("id") or "")
