"""Fakesms's wire: an ``X-Key`` header, JSON both ways, one call per batch, statuses by id."""

from __future__ import annotations

from decimal import Decimal

from providers.base import (
    AccountInfo,
    Capabilities,
    CredentialField,
    MessageStatusReport,
    ProviderAdapter,
    ReportedSender,
    Submission,
    SubmitResult,
)
from providers.statuses import message_reason, message_status, sender_status


class FakeAdapter(ProviderAdapter):
    slug = "fake"
    label = "Fakesms"
    default_base_url = "https://api.fakesms.test"
    credential_fields = (CredentialField("api_key", "API key"),)
    capabilities = Capabilities(
        max_batch_size=50, message_status=True, campaign_stats=False, scheduling=False
    )

    def auth_headers(self) -> dict[str, str]:
        return {"X-Key": self.credentials.get("api_key", "")}

    def account_info(self) -> AccountInfo:
        body = self.call("GET", "/account")
        senders = tuple(
            ReportedSender(s["name"], sender_status(s["status"]), s["status"])
            for s in body["senders"]
        )
        return AccountInfo(body["currency"], Decimal(body["balance"]), senders=senders)

    def submit(self, spec, messages, state) -> Submission:
        self.check_batch(messages, spec)
        to = [{"ref": m.reference, "phone": m.phone, "text": m.text or spec.text} for m in messages]
        body = self.call("POST", "/batches", json={"sender": spec.sender, "to": to}, sends=True)
        state.created(body["batch"])
        ids = body["ids"]
        return Submission(
            body["batch"], [SubmitResult(m.reference, True, ids[m.reference]) for m in messages]
        )

    def message_statuses(self, provider_campaign_id, provider_message_ids=()):
        items = self.call("GET", f"/batches/{provider_campaign_id}")["messages"]
        return [self._report(item) for item in items]

    def _report(self, item: dict) -> MessageStatusReport:
        status, final = message_status(self.slug, item["status"])
        return MessageStatusReport(
            status=status,
            raw_status=item["status"],
            final=final,
            reference=item["ref"],
            provider_message_id=item["id"],
            error_reason=message_reason(self.slug, item["status"]),
        )
