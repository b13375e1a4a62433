"""smsdrop: form login for a bearer token, one call creates and launches a campaign.

HTTP 200 on create means launched; 201 means created but not launched for lack of SMS credits:
we return ``launched=False`` with the campaign id, and the next ``submit`` for that batch
calls ``/campaigns/retry`` instead of creating the campaign again.

Wire-format choices on [CONFLICT] items (docs/providers.md §6):
- #27 host smsdrop.edevtecapps.com with the SDK 1.0.0 ``/api`` prefix (``api_prefix``).
- #28 [INFERRED] FastAPI defaults: login 400 = bad credentials, retry 200 = launched.
- The create body is SDK 1.0.0's minus its output-only fields (id, status, counters); the unused
  one of ``defer_until``/``defer_by`` is sent as null, as 1.0.0 does.
- [INFERRED] ``title`` carries the batch key, the only place to put our correlation id.
"""

from __future__ import annotations

from datetime import timedelta

from providers.base import (
    AccountInfo,
    Capabilities,
    CredentialField,
    ProviderAdapter,
    RemoteCampaign,
    RemoteStats,
    Submission,
    SubmitResult,
    TokenLoginMixin,
    is_gsm7,
    to_datetime,
)
from providers.errors import AuthError, InvalidRequest, NotFound
from providers.http import json_or_none
from providers.statuses import campaign_status, empty_counters

PLAIN, FLASH, UNICODE = 0, 1, 2
NOT_LAUNCHED = (
    "smsdrop created the campaign but did not start it: the account has too few SMS credits. "
    "Crier will try to launch it again; add credits in smsdrop."
)


class SmsdropAdapter(TokenLoginMixin, ProviderAdapter):
    slug = "smsdrop"
    label = "smsdrop"
    default_base_url = "https://smsdrop.edevtecapps.com"
    api_prefix = "/api"
    credential_fields = (
        CredentialField("email", "E-mail", secret=False),
        CredentialField("password", "Password"),
    )
    capabilities = Capabilities(
        max_batch_size=10_000,
        message_status=False,
        flash=True,
        # message_type is one of plain, flash or unicode: a flash SMS cannot be unicode.
        flash_unicode=False,
        sms_sender_required=True,  # the SDK's campaign model has no default sender
    )
    # [INFERRED] smsdrop documents no processing time. It is a FastAPI service behind a proxy
    # (README.md): one request creates and launches a campaign of up to 10,000 numbers,
    # which takes seconds; 10 minutes is far past any proxy's cut-off and such a job's length.
    settle_time = timedelta(minutes=10)

    token_key = "access_token"

    def fetch_token(self) -> str:
        form = {
            "username": self.credentials.get("email", ""),
            "password": self.credentials.get("password", ""),
        }
        path = f"{self.api_prefix}/auth/login"
        return self.token_in(self.call("POST", path, data=form, authenticate=False))

    def raise_for_response(self, response):
        status = response.status_code
        if status == 400 and response.request.url.path.endswith("/auth/login"):
            raise AuthError("smsdrop did not accept the e-mail and password.", code=status)
        if status == 404:
            raise NotFound("smsdrop has no such campaign.", code=status)
        if status == 422:
            detail = (json_or_none(response) or {}).get("detail")
            problem = detail[0] if isinstance(detail, list) and detail else {}
            field = ".".join(str(p) for p in problem.get("loc", [])[1:])
            raise InvalidRequest(
                f"smsdrop rejected {field or 'the campaign'}: {problem.get('msg', detail)}",
                field=field,
                code=status,
            )
        super().raise_for_response(response)

    def submit(self, spec, messages, state):
        self.check_batch(messages, spec)
        if state.provider_campaign_id:  # created earlier but not launched: never create twice
            response = self.request(
                "POST",
                f"{self.api_prefix}/campaigns/retry",
                sends=True,
                json={"id": state.provider_campaign_id},
            )
        else:
            response = self.request(
                "POST",
                f"{self.api_prefix}/campaigns/",
                sends=True,
                json=self._campaign(spec, messages, state.title(spec.name)),
            )
            body = self.decode(response, sends=True)
            state.created(str(body["id"]))
        launched = response.status_code != 201
        return Submission(
            provider_campaign_id=state.provider_campaign_id,
            results=[SubmitResult(m.reference, accepted=True) for m in messages],
            launched=launched,
            campaign_status="scheduled" if launched and spec.start_at else "sending",
            reason="" if launched else NOT_LAUNCHED,
        )

    def reconcile(self, spec, messages, state):
        # No reference at smsdrop: our batch key is in the campaign's title [INFERRED], so a
        # campaign created by a call whose answer was lost is found by reading every page of
        # the account's campaigns (the API documents no order and no search).
        campaign_id = state.provider_campaign_id
        if not campaign_id and state.key:
            found = self._find_titled(f"[{state.key}]")
            campaign_id = found.provider_campaign_id if found else ""
        if not campaign_id:
            return None
        remote = self.campaign(campaign_id)
        launched = remote.status != "draft"  # PENDING: created, not launched (no credits)
        return Submission(
            provider_campaign_id=campaign_id,
            results=[SubmitResult(m.reference, accepted=True) for m in messages],
            launched=launched,
            campaign_status=remote.status,
            reason="" if launched else NOT_LAUNCHED,
        )

    def _campaign(self, spec, messages, title: str) -> dict:
        text = spec.text or ""
        message_type = FLASH if spec.flash else PLAIN if is_gsm7(text) else UNICODE
        return {
            "title": title or None,  # None: smsdrop picks a random title
            "message": text,
            "message_type": message_type,
            "sender": spec.sender,
            "recipient_list": [m.phone for m in messages],
            "defer_until": spec.start_at.isoformat() if spec.start_at else None,
            "defer_by": None,
        }

    def campaign_stats(self, provider_campaign_id):
        """[INFERRED] smsdrop reports only a delivery percentage: delivered = round(percentage x
        message_count / 100); the rest are queued before sending, sent while sending, and
        unknown once the campaign is complete or aborted (provider-status-map.md)."""
        campaign = self.call("GET", f"{self.api_prefix}/campaigns/{provider_campaign_id}")
        status = campaign_status(self.slug, campaign.get("status"))
        total = int(campaign.get("message_count") or 0)
        delivered = round(int(campaign.get("delivery_percentage") or 0) * total / 100)
        counters = empty_counters()
        counters["delivered"] = delivered
        rest = {"draft": "queued", "scheduled": "queued", "completed": "unknown"}
        rest["cancelled"] = "unknown"
        counters[rest.get(status, "sent")] += total - delivered
        return RemoteStats(counters, status, str(campaign.get("status") or ""), total=total)

    def campaign(self, provider_campaign_id):
        return self._remote(self.call("GET", f"{self.api_prefix}/campaigns/{provider_campaign_id}"))

    def list_campaigns(self, skip: int = 0, limit: int = 100):
        params = {"skip": skip, "limit": limit}
        items = self.call("GET", f"{self.api_prefix}/campaigns/", params=params)
        return [self._remote(item) for item in items]

    def _find_titled(self, tag: str) -> RemoteCampaign | None:
        skip, limit = 0, 50  # each campaign comes with its recipient list: small pages
        while page := self.list_campaigns(skip, limit):
            if found := next((c for c in page if tag in c.name), None):
                return found
            skip += len(page)
        return None

    def _remote(self, item: dict) -> RemoteCampaign:
        return RemoteCampaign(
            provider_campaign_id=str(item["id"]),
            name=item.get("title") or "",
            status=campaign_status(self.slug, item.get("status")),
            raw_status=str(item.get("status") or ""),
            created_at=to_datetime(item.get("created_at")),
        )

    def account_info(self):
        me = self.call("GET", f"{self.api_prefix}/users/me")
        subscription = self.call("GET", f"{self.api_prefix}/subscriptions/")
        return AccountInfo(credits=int(subscription.get("nbr_sms") or 0), login=me.get("email", ""))
