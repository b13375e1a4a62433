"""Every adapter against its sandbox over real HTTP: a live server, the adapters' own httpx path.

Each adapter is built exactly as an account builds it, with the sandbox mount as its base URL and
the credentials ``provision`` hands out. Time moves with the sandbox clock, never by sleeping.
Expected numbers come from the sandbox's own tables (its messages, their delivery stages, the
charge ledger), so nothing here is a hard-coded result.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from providers import registry
from providers.base import (
    BatchState,
    CampaignSpec,
    Capabilities,
    OutgoingMessage,
    ProviderAdapter,
    VoicePayload,
)
from providers.errors import (
    AuthError,
    InvalidRequest,
    NotSupported,
    PermanentError,
    RateLimited,
    TemporaryError,
    UnknownOutcome,
)
from providers.http import timeout as provider_timeout
from providers.mobizon.adapter import ADD_LIMIT
from providers.sandbox import accounts, billing, clock, delivery
from providers.sandbox.models import Charge, SandboxAccount, SandboxCampaign
from providers.statuses import empty_counters

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = list(registry.PROVIDERS)
THOUSAND = 1_000
# The request that makes each sandbox accept and charge messages.
CHARGING_CALL = {
    "bsg": "/api/campaigns/send",
    "mobizon": "/Campaign/Send",
    "smsdrop": "/api/campaigns/",
    "conpeek": "/request_list",
}
# Their wire has no per-message reference: the sandbox ledger files a charge under the campaign's
# tag (Mobizon name, smsdrop title) and the phone.
TAGGED_BY_CAMPAIGN = {"mobizon", "smsdrop"}
SENDER_STATUSES = {"approved": "approved", "pending": "pending", "blocked": "rejected"}


def supporting(capability: str) -> list[str]:
    """The providers whose capabilities say they offer ``capability``."""
    return [slug for slug in PROVIDERS if getattr(registry.get(slug).capabilities, capability)]


@pytest.fixture(autouse=True)
def sandbox_clock():
    clock.reset()
    yield clock
    clock.reset()


@dataclass
class Sandboxed:
    """An adapter wired to its sandbox account, with every HTTP request it made."""

    adapter: ProviderAdapter
    account: SandboxAccount
    requests: list[httpx.Request]

    @property
    def slug(self) -> str:
        return self.adapter.slug

    def knobs(self, **values) -> None:
        SandboxAccount.objects.filter(pk=self.account.pk).update(**values)

    def fault_on_charging_call(self, **values) -> None:
        """Turn fault knobs on just before the next request that charges messages, so logins
        and Mobizon's draft and recipients go through and the fault hits the send itself."""
        hooks = self.adapter.http.event_hooks["request"]

        def arm(request: httpx.Request) -> None:
            if request.url.path.endswith(CHARGING_CALL[self.slug]):
                self.knobs(**values)
                hooks.remove(arm)

        hooks.append(arm)

    def calls(self, path_end: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(path_end)]

    def campaign(self, provider_campaign_id: str) -> SandboxCampaign:
        found = self.account.campaigns.filter(external_id=provider_campaign_id).first()
        return found or self.account.campaigns.get(pk=provider_campaign_id)

    def stages(self, provider_campaign_id: str) -> list:
        """(sandbox message, delivery stage) for every message of the campaign, right now."""
        return billing.campaign_stages(self.campaign(provider_campaign_id), clock.now())

    def billed(self, provider_campaign_id: str) -> Decimal:
        """What stays charged for the campaign: its charges less refunds."""
        campaign = self.campaign(provider_campaign_id)
        return Charge.objects.active().filter(message__campaign=campaign).total()


@pytest.fixture
def connect(live_server):
    """``connect(slug)``: the registered adapter for ``slug`` on a fresh sandbox account."""
    clients = []

    def connect(slug, *, name="Test", credentials=None, timeout=None) -> Sandboxed:
        given = accounts.provision(slug, name=name)
        requests: list[httpx.Request] = []
        client = httpx.Client(
            timeout=timeout or provider_timeout(), event_hooks={"request": [requests.append]}
        )
        clients.append(client)
        adapter = registry.get(slug)(
            base_url=f"{live_server.url}/sandbox/{slug}",
            credentials=credentials or given,
            client=client,
        )
        account = SandboxAccount.objects.get(provider=slug, name=name)
        return Sandboxed(adapter, account, requests)

    yield connect
    for client in clients:
        client.close()


def outgoing(count: int, tag: str = "m", **options) -> list[OutgoingMessage]:
    return [OutgoingMessage(f"{tag}{i:05d}", f"+7701{i:07d}", **options) for i in range(count)]


def campaign_spec(sandbox: Sandboxed, channel: str = "", **options) -> CampaignSpec:
    """A campaign in the provider's first channel (SMS where it has one)."""
    channels = sandbox.adapter.capabilities.channels
    channel = channel or ("sms" if "sms" in channels else "voice")
    if channel == "voice":
        voice = VoicePayload(text="Your table is ready.", voice="sonya", language="en")
        return replace(
            CampaignSpec(sender="", channel="voice", voice=voice, name="Voice"), **options
        )
    return replace(CampaignSpec(sender="Crier", text="Hello from Crier", name="Promo"), **options)


def ledger_reference(sandbox: Sandboxed, spec, state, message: OutgoingMessage) -> str:
    """The reference the sandbox's charge ledger files ``message`` under."""
    if sandbox.slug in TAGGED_BY_CAMPAIGN:
        return accounts.implied_reference(state.title(spec.name), message.digits)
    return message.reference


def assert_charged_once(sandbox: Sandboxed, spec, state, messages) -> None:
    assert accounts.charged_more_than_once() == {}
    charged = {accounts.charges(ledger_reference(sandbox, spec, state, m)) for m in messages}
    assert charged == {1}


def assert_charged_nothing(messages) -> None:
    assert Charge.objects.count() == 0, "a refused request must not charge anything"
    assert all(accounts.charges(m.reference) == 0 for m in messages)


def expected_counters(sandbox: Sandboxed, stages) -> dict[str, int]:
    """The counters the adapter should report for a finished campaign: the sandbox's final
    delivery stage of each message, tallied."""
    counters = empty_counters() | Counter(stage for _message, stage in stages)
    if sandbox.slug == "smsdrop":
        # smsdrop reports only a whole delivery percentage; the rest cannot be told apart.
        total = len(stages)
        delivered = round(counters["delivered"] * 100 // total * total / 100)
        counters = empty_counters() | {"delivered": delivered, "unknown": total - delivered}
    return counters


def read_stats_until_finished(sandbox: Sandboxed, provider_campaign_id: str, total: int):
    """campaign_stats after each step of the sandbox clock, until the campaign is finished;
    the counters add up to ``total`` at every read."""
    step = 30
    for _ in range(delivery.LAST_FINAL_AFTER // step + 2):
        clock.advance(step)
        stats = sandbox.adapter.campaign_stats(provider_campaign_id)
        assert sum(stats.counters.values()) == stats.total == total
        if stats.finished:
            return stats
    raise AssertionError(f"still {stats.campaign_status} after the last delivery was due")


# --- Test connection ---------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["bsg", "mobizon"])
def test_connection_test_shows_the_sandbox_balance_and_sender_names(connect, slug):
    sandbox = connect(slug)

    info = sandbox.adapter.account_info()

    assert (info.balance, info.currency) == (sandbox.account.balance, sandbox.account.currency)
    assert {(s.value, s.status) for s in info.senders} == {
        (s.name, SENDER_STATUSES[s.status]) for s in sandbox.account.senders.all()
    }


def test_smsdrop_connection_test_shows_the_credits_and_the_login(connect):
    sandbox = connect("smsdrop")

    info = sandbox.adapter.account_info()

    assert info.credits == int(sandbox.account.balance)
    assert info.login == sandbox.account.email


def test_conpeek_has_no_connection_test_and_says_so_without_calling(connect):
    sandbox = connect("conpeek")

    with pytest.raises(NotSupported) as raised:
        sandbox.adapter.account_info()

    assert str(raised.value) == "Conpeek does not offer checking the balance."
    assert sandbox.requests == []


# --- A thousand messages, from submit to a finished campaign -----------------------------------


@pytest.mark.parametrize(
    ("slug", "channel", "submit_path", "submit_calls"),
    [
        ("bsg", "sms", "/api/campaigns/send", 1),
        ("bsg", "voice", "/api/campaigns/send", 1),
        ("mobizon", "sms", "/Campaign/AddRecipients", math.ceil(THOUSAND / ADD_LIMIT)),
        ("smsdrop", "sms", "/api/campaigns/", 1),
    ],
)
def test_a_thousand_messages_are_charged_once_and_counted_until_finished(
    connect, slug, channel, submit_path, submit_calls
):
    sandbox = connect(slug)
    spec, batch, state = campaign_spec(sandbox, channel), outgoing(THOUSAND), BatchState("k1")

    submission = sandbox.adapter.submit(spec, batch, state)

    campaign_id = submission.provider_campaign_id
    assert [r.reference for r in submission.results if r.accepted] == [m.reference for m in batch]
    assert len(sandbox.calls(submit_path)) == submit_calls
    assert sandbox.campaign(campaign_id).channel == channel
    assert_charged_once(sandbox, spec, state, batch)
    assert not sandbox.adapter.campaign_stats(campaign_id).finished

    stats = read_stats_until_finished(sandbox, campaign_id, THOUSAND)

    stages = sandbox.stages(campaign_id)
    assert stats.counters == expected_counters(sandbox, stages)
    if slug != "smsdrop":  # smsdrop counts credits, not money
        assert (stats.cost, stats.currency) == (
            sandbox.billed(campaign_id),
            sandbox.account.currency,
        )
    assert_charged_once(sandbox, spec, state, batch)


def test_mobizon_adds_recipients_in_chunks_of_at_most_500(connect):
    sandbox = connect("mobizon")

    sandbox.adapter.submit(campaign_spec(sandbox), outgoing(THOUSAND), BatchState("k1"))

    sizes = [
        sum(
            key == "recipients[]"
            for key, _value in httpx.QueryParams(r.content.decode()).multi_items()
        )
        for r in sandbox.calls("/Campaign/AddRecipients")
    ]
    assert sizes == [ADD_LIMIT, THOUSAND - ADD_LIMIT]


@pytest.mark.parametrize("slug", supporting("message_status"))
def test_per_message_statuses_match_the_sandbox_once_finished(connect, slug):
    sandbox = connect(slug)
    submission = sandbox.adapter.submit(
        campaign_spec(sandbox), outgoing(THOUSAND), BatchState("k1")
    )
    campaign_id = submission.provider_campaign_id
    clock.advance(delivery.LAST_FINAL_AFTER + 1)

    ids = [r.provider_message_id for r in submission.results if r.provider_message_id]
    reports = sandbox.adapter.message_statuses(campaign_id, ids)

    assert {r.provider_message_id: r.status for r in reports} == {
        str(m.pk): stage for m, stage in sandbox.stages(campaign_id)
    }
    assert all(r.final for r in reports)


@pytest.mark.parametrize("slug", supporting("status_by_reference"))
def test_each_message_is_found_by_our_reference(connect, slug):
    sandbox = connect(slug)
    batch = outgoing(THOUSAND)
    submission = sandbox.adapter.submit(campaign_spec(sandbox), batch, BatchState("k1"))
    clock.advance(delivery.LAST_FINAL_AFTER + 1)
    stage_of = {m.reference: stage for m, stage in sandbox.stages(submission.provider_campaign_id)}

    for message in batch[::97]:
        report = sandbox.adapter.lookup_reference(message.reference)
        assert (report.reference, report.status) == (message.reference, stage_of[message.reference])
    assert sandbox.adapter.lookup_reference("neversent0") is None


def test_conpeek_takes_a_thousand_voice_messages_in_one_call_charged_once(connect):
    sandbox = connect("conpeek")
    spec, batch, state = campaign_spec(sandbox), outgoing(THOUSAND), BatchState("k1")

    submission = sandbox.adapter.submit(spec, batch, state)

    assert len(sandbox.calls("/request_list")) == 1
    assert all(r.accepted and r.provider_message_id for r in submission.results)
    messages = sandbox.campaign(submission.provider_campaign_id).messages.all()
    assert {(m.reference, m.params["type"], m.text) for m in messages} == {
        (m.reference, "tts", spec.voice.text) for m in batch
    }
    assert_charged_once(sandbox, spec, state, batch)


# --- Stop (BSG) and delete (Mobizon) -----------------------------------------------------------


def test_bsg_stops_a_sending_campaign_and_refunds_what_was_not_handed_over(connect):
    sandbox = connect("bsg")
    batch = outgoing(200)
    submission = sandbox.adapter.submit(campaign_spec(sandbox), batch, BatchState("k1"))
    campaign_id = submission.provider_campaign_id
    clock.advance(2)  # some messages are with the operator, others still queued

    assert sandbox.adapter.stop(campaign_id) == "cancelled"

    stage_of = {m.reference: stage for m, stage in sandbox.stages(campaign_id)}
    assert {"cancelled"} < set(stage_of.values())
    assert accounts.charged_more_than_once() == {}
    # Every message handed over stays charged, those bound to be rejected included (m00051 is
    # handed over at 2 s and rejected at 4 s); only the ones cut off are refunded.
    assert "rejected" in {delivery.plan(m.reference).outcome for m in batch}
    for message in batch:
        assert accounts.charges(message.reference) == (stage_of[message.reference] != "cancelled")
    sandbox.account.refresh_from_db()
    billed = sandbox.billed(campaign_id)
    assert sandbox.account.balance == registry.emulator("bsg").starting_balance - billed
    clock.advance(delivery.LAST_FINAL_AFTER)
    stats = sandbox.adapter.campaign_stats(campaign_id)
    stages = Counter(stage for _m, stage in sandbox.stages(campaign_id))
    assert stats.campaign_status == "cancelled"
    assert 0 < stats.cost == billed < sum(m.price for m, _stage in sandbox.stages(campaign_id))
    cut_off = stages.pop("cancelled")  # BSG never reports on these: its final "unknown"
    assert stats.counters == empty_counters() | stages | {"unknown": cut_off}


def test_bsg_stopping_a_scheduled_campaign_refunds_every_message(connect):
    sandbox = connect("bsg")
    batch = outgoing(50)
    spec = campaign_spec(sandbox, start_at=timezone.now() + timedelta(hours=2))
    submission = sandbox.adapter.submit(spec, batch, BatchState("k1"))
    assert submission.campaign_status == "scheduled"

    assert sandbox.adapter.stop(submission.provider_campaign_id) == "cancelled"

    assert all(accounts.charges(m.reference) == 0 for m in batch)
    sandbox.account.refresh_from_db()
    assert sandbox.account.balance == registry.emulator("bsg").starting_balance
    assert sandbox.adapter.campaign_stats(submission.provider_campaign_id).cost == 0


def test_bsg_refuses_to_stop_a_finished_campaign_and_says_why(connect):
    sandbox = connect("bsg")
    batch = outgoing(20)
    submission = sandbox.adapter.submit(campaign_spec(sandbox), batch, BatchState("k1"))
    clock.advance(delivery.LAST_FINAL_AFTER + 1)

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.stop(submission.provider_campaign_id)

    assert "already finished or been stopped" in str(raised.value)
    assert all(accounts.charges(m.reference) == 1 for m in batch)


@pytest.mark.parametrize("minutes_left", [6, 60])
def test_mobizon_deletes_a_campaign_at_least_5_minutes_before_its_start(connect, minutes_left):
    sandbox = connect("mobizon")
    spec = campaign_spec(sandbox, start_at=timezone.now() + timedelta(hours=2))
    batch, state = outgoing(50), BatchState("k1")
    submission = sandbox.adapter.submit(spec, batch, state)
    assert submission.campaign_status == "scheduled"
    assert_charged_once(sandbox, spec, state, batch)
    clock.advance(timedelta(hours=2, minutes=-minutes_left).total_seconds())

    sandbox.adapter.delete(submission.provider_campaign_id)

    stats = sandbox.adapter.campaign_stats(submission.provider_campaign_id)
    assert stats.campaign_status == "cancelled"
    assert stats.cost == sandbox.billed(submission.provider_campaign_id) == 0
    assert {accounts.charges(ledger_reference(sandbox, spec, state, m)) for m in batch} == {0}
    sandbox.account.refresh_from_db()
    assert sandbox.account.balance == registry.emulator("mobizon").starting_balance


def test_mobizon_refuses_to_delete_less_than_5_minutes_before_the_start_and_says_why(connect):
    sandbox = connect("mobizon")
    spec = campaign_spec(sandbox, start_at=timezone.now() + timedelta(hours=2))
    batch, state = outgoing(50), BatchState("k1")
    submission = sandbox.adapter.submit(spec, batch, state)
    clock.advance(timedelta(hours=2, minutes=-4).total_seconds())

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.delete(submission.provider_campaign_id)

    assert "at least 5 minutes before its start time" in str(raised.value)
    assert sandbox.campaign(submission.provider_campaign_id).deleted_at is None
    assert_charged_once(sandbox, spec, state, batch)


def test_mobizon_refuses_to_delete_a_started_campaign_and_says_why(connect):
    sandbox = connect("mobizon")
    spec, batch, state = campaign_spec(sandbox), outgoing(50), BatchState("k1")
    submission = sandbox.adapter.submit(spec, batch, state)

    with pytest.raises(PermanentError) as raised:
        sandbox.adapter.delete(submission.provider_campaign_id)

    assert "only deletes a campaign before it starts" in str(raised.value)
    assert_charged_once(sandbox, spec, state, batch)


# --- Quotes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", supporting("quote"))
def test_quote_equals_what_the_sandbox_then_bills(connect, slug):
    sandbox = connect(slug)
    # Two SMS parts each, to two countries, across Mobizon's 500-recipient chunks.
    spec = replace(campaign_spec(sandbox), text="Hello from Crier! " * 10)
    batch = [
        OutgoingMessage(f"q{i:05d}", f"+7701{i:07d}" if i % 2 else f"+38050{i:07d}")
        for i in range(ADD_LIMIT + 1)
    ]

    quote = sandbox.adapter.quote(spec, batch)

    assert Charge.objects.count() == 0, "a quote sends nothing"
    assert not sandbox.account.campaigns.filter(deleted_at__isnull=True).exists()
    submission = sandbox.adapter.submit(spec, batch, BatchState("k1"))
    assert quote.total == sandbox.billed(submission.provider_campaign_id)
    assert quote.currency == sandbox.account.currency


# --- Fault knobs -------------------------------------------------------------------------------


def small_send(sandbox: Sandboxed, tag: str = "f"):
    spec, batch, state = campaign_spec(sandbox), outgoing(3, tag), BatchState(tag)
    return spec, batch, state, lambda: sandbox.adapter.submit(spec, batch, state)


def reads(sandbox: Sandboxed) -> list:
    """The read calls that need no campaign: the connection test, where there is one."""
    return [sandbox.adapter.account_info] if sandbox.adapter.capabilities.account_info else []


@pytest.mark.parametrize("slug", PROVIDERS)
def test_rate_limit_raises_rate_limited_with_retry_after_and_charges_nothing(connect, slug):
    sandbox = connect(slug)
    spec, batch, state, send = small_send(sandbox)
    sandbox.fault_on_charging_call(rate_limit_every_n=1, retry_after=7)

    with pytest.raises(RateLimited) as raised:
        send()

    assert raised.value.retry_after == 7
    assert_charged_nothing(batch)
    for read in reads(sandbox):
        with pytest.raises(RateLimited) as raised:
            read()
        assert raised.value.retry_after == 7
    sandbox.knobs(rate_limit_every_n=0)
    send()  # safe to try again with the same batch state: each message is charged once
    assert_charged_once(sandbox, spec, state, batch)


@pytest.mark.parametrize("slug", PROVIDERS)
def test_error_burst_503_is_temporary_on_reads_and_on_sends(connect, slug):
    sandbox = connect(slug)
    _spec, batch, _state, send = small_send(sandbox)
    sandbox.fault_on_charging_call(error_burst=1)

    # 503: the server did not take the request, so even a send may simply be tried again.
    with pytest.raises(TemporaryError, match="internal error") as raised:
        send()
    assert not isinstance(raised.value, UnknownOutcome)

    assert_charged_nothing(batch)  # the burst answers 503 before doing anything
    for read in reads(sandbox):
        sandbox.knobs(error_burst=1)
        with pytest.raises(TemporaryError):
            read()
        read()  # the burst is over


@pytest.mark.parametrize("slug", PROVIDERS)
def test_slow_answers_still_succeed(connect, slug):
    sandbox = connect(slug)
    spec, batch, state, send = small_send(sandbox)
    sandbox.knobs(slow_seconds=0.2)
    started = time.monotonic()

    send()
    for read in reads(sandbox):
        read()

    assert time.monotonic() - started >= 0.2
    assert_charged_once(sandbox, spec, state, batch)


@pytest.mark.parametrize("slug", PROVIDERS)
def test_hang_on_a_send_is_unknown_outcome_though_the_messages_were_charged(
    connect, settings, slug
):
    settings.SANDBOX_HANG_SECONDS = 1.0
    sandbox = connect(slug, timeout=httpx.Timeout(5.0, read=0.4))
    spec, batch, state, send = small_send(sandbox)
    sandbox.fault_on_charging_call(hang=True)

    with pytest.raises(UnknownOutcome, match="did not answer in time"):
        send()

    time.sleep(settings.SANDBOX_HANG_SECONDS)  # let the server thread finish before teardown
    assert_charged_once(sandbox, spec, state, batch)


@pytest.mark.parametrize("slug", PROVIDERS)
def test_malformed_json_is_temporary_on_reads_and_unknown_outcome_on_sends(connect, slug):
    sandbox = connect(slug)
    spec, batch, state, send = small_send(sandbox)
    sandbox.fault_on_charging_call(malformed_json=True)

    with pytest.raises(UnknownOutcome, match="could not read"):
        send()

    assert_charged_once(sandbox, spec, state, batch)
    for read in reads(sandbox):
        with pytest.raises(TemporaryError):
            read()


@pytest.mark.parametrize("slug", PROVIDERS)
def test_crash_after_accept_is_unknown_outcome_and_the_messages_are_charged_once(connect, slug):
    sandbox = connect(slug)
    spec, batch, state, send = small_send(sandbox)
    sandbox.fault_on_charging_call(crash_after_accept=True)

    with pytest.raises(UnknownOutcome, match="failed after receiving the request"):
        send()

    assert_charged_once(sandbox, spec, state, batch)
    sandbox.knobs(crash_after_accept=False)
    if sandbox.adapter.capabilities.status_by_reference:  # reconcile instead of resending
        found = [sandbox.adapter.lookup_reference(m.reference) for m in batch]
        assert [report.reference for report in found] == [m.reference for m in batch]


# --- Credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", PROVIDERS)
def test_wrong_credentials_are_an_auth_error_in_plain_words_without_the_credential(connect, slug):
    adapter_class = registry.get(slug)
    given = accounts.provision(slug, name="Test")
    secrets = {f.name for f in adapter_class.credential_fields if f.secret}
    wrong = {name: value[::-1] if name in secrets else value for name, value in given.items()}
    assert all(wrong[name] != given[name] for name in secrets)
    sandbox = connect(slug, credentials=wrong)
    _spec, batch, _state, send = small_send(sandbox)
    first_call = reads(sandbox)[0] if reads(sandbox) else send

    with pytest.raises(AuthError) as raised:
        first_call()

    error = raised.value
    sentence = str(error)
    assert sentence.startswith(adapter_class.label) and sentence.endswith(".")
    assert "HTTP" not in sentence and "{" not in sentence
    for name in secrets:
        for text in (sentence, error.detail, repr(error), str(error.code)):
            assert wrong[name] not in text and given[name] not in text
    assert_charged_nothing(batch)


# --- Capabilities say what works ---------------------------------------------------------------


@dataclass
class Sent:
    spec: CampaignSpec
    batch: list[OutgoingMessage]
    campaign_id: str
    message_ids: list[str]


def send(sandbox: Sandboxed, tag: str, *, count=2, channel="", batch=None, **spec_fields) -> Sent:
    spec = campaign_spec(sandbox, channel, **spec_fields)
    batch = batch or outgoing(count, tag)
    submission = sandbox.adapter.submit(spec, batch, BatchState(tag))
    assert all(r.accepted for r in submission.results)
    ids = [r.provider_message_id for r in submission.results if r.provider_message_id]
    return Sent(spec, batch, submission.provider_campaign_id, ids)


def assert_not_supported(sandbox: Sandboxed, call) -> None:
    made = len(sandbox.requests)
    with pytest.raises(NotSupported):
        call()
    assert len(sandbox.requests) == made, "an unsupported operation is refused without a call"


def check_quote(sandbox, sent, supported):
    if not supported:
        return assert_not_supported(sandbox, lambda: sandbox.adapter.quote(sent.spec, sent.batch))
    quote = sandbox.adapter.quote(sent.spec, sent.batch)
    assert quote.total > 0 and quote.currency == sandbox.account.currency


def check_stop(sandbox, sent, supported):
    if not supported:
        return assert_not_supported(sandbox, lambda: sandbox.adapter.stop(sent.campaign_id))
    assert sandbox.adapter.stop(send(sandbox, "stop").campaign_id) == "cancelled"


def check_delete_before_start(sandbox, sent, supported):
    if not supported:
        return assert_not_supported(sandbox, lambda: sandbox.adapter.delete(sent.campaign_id))
    lead = sandbox.adapter.capabilities.min_lead_time + timedelta(hours=1)
    scheduled = send(sandbox, "delete", start_at=timezone.now() + lead)
    sandbox.adapter.delete(scheduled.campaign_id)
    assert sandbox.campaign(scheduled.campaign_id).deleted_at is not None


def check_status_by_reference(sandbox, sent, supported):
    reference = sent.batch[0].reference
    if not supported:
        return assert_not_supported(sandbox, lambda: sandbox.adapter.lookup_reference(reference))
    assert sandbox.adapter.lookup_reference(reference).reference == reference


def check_message_status(sandbox, sent, supported):
    def call():
        return sandbox.adapter.message_statuses(sent.campaign_id, sent.message_ids)

    if not supported:
        return assert_not_supported(sandbox, call)
    assert len(call()) == len(sent.batch)


def check_short_links(sandbox, sent, supported):
    def call():
        return sandbox.adapter.links(sent.campaign_id)

    if not supported:
        return assert_not_supported(sandbox, call)
    assert call() == []  # the text sent has no link, and a campaign it knows is no error


def check_campaign_stats(sandbox, sent, supported):
    def call():
        return sandbox.adapter.campaign_stats(sent.campaign_id)

    if not supported:
        return assert_not_supported(sandbox, call)
    assert call().total == len(sent.batch)


def check_account_info(sandbox, sent, supported):
    if not supported:
        return assert_not_supported(sandbox, sandbox.adapter.account_info)
    info = sandbox.adapter.account_info()
    assert info.balance is not None or info.credits is not None


# Campaign options: each one the capabilities offer works. An option they leave out is not
# refused by every adapter yet (Mobizon sends a voice spec as SMS, smsdrop sends the shared text
# instead of personal ones, Conpeek ignores start_at), so only the offered side is checked.


def check_channels(sandbox, sent, channels):
    for channel in sorted(channels):
        checked = send(sandbox, f"ch{channel}", channel=channel)
        assert sandbox.campaign(checked.campaign_id).channel == channel


def check_personalised_text(sandbox, sent, supported):
    if not supported:
        return
    phones = [f"+7702{i:07d}" for i in range(3)]
    if "sms" in sandbox.adapter.capabilities.channels:
        batch = [OutgoingMessage(f"own{i}", p, text=f"Hi {p}") for i, p in enumerate(phones)]
    else:
        batch = [
            OutgoingMessage(f"own{i}", p, voice=VoicePayload(text=f"Hi {p}"))
            for i, p in enumerate(phones)
        ]
    personal = send(sandbox, "own", batch=batch)
    messages = sandbox.campaign(personal.campaign_id).messages.filter(phone__in=phones_of(batch))
    assert dict(messages.values_list("phone", "text")) == {m.digits: f"Hi {m.phone}" for m in batch}


def check_personalised_voice(sandbox, sent, supported):
    """Calls that each read their own text: one batch where offered; elsewhere refused
    without a call, and a batch of one call reading its own text goes (the API's calls)."""
    if "voice" not in sandbox.adapter.capabilities.channels:
        return
    phones = [f"+7703{i:07d}" for i in range(2)]
    say = {"voice": "sonya", "language": "en"}
    batch = [
        OutgoingMessage(f"call{i}", p, voice=VoicePayload(text=f"Hi {p}", **say))
        for i, p in enumerate(phones)
    ]
    spec = replace(campaign_spec(sandbox, "voice"), voice=None)
    if not supported:
        assert_not_supported(
            sandbox, lambda: sandbox.adapter.submit(spec, batch, BatchState("calls"))
        )
        batch = batch[:1]
    done = sandbox.adapter.submit(spec, batch, BatchState("calls"))
    campaign = sandbox.campaign(done.provider_campaign_id)
    mine = campaign.messages.filter(phone__in=phones_of(batch))
    heard = {m.phone: m.text or campaign.text for m in mine}
    assert heard == {m.digits: f"Hi {m.phone}" for m in batch}


def phones_of(batch) -> list[str]:
    return [m.digits for m in batch]


def check_max_batch_size(sandbox, sent, size):
    too_many = [OutgoingMessage(f"x{i}", "+77010000000") for i in range(size + 1)]
    made = len(sandbox.requests)
    with pytest.raises(InvalidRequest):
        sandbox.adapter.submit(sent.spec, too_many, BatchState("big"))
    assert len(sandbox.requests) == made


def check_scheduling(sandbox, sent, supported):
    if not supported:
        return
    start_at = timezone.now() + sandbox.adapter.capabilities.min_lead_time + timedelta(hours=1)
    scheduled = send(sandbox, "later", start_at=start_at)
    recorded = sandbox.campaign(scheduled.campaign_id).start_at
    assert abs(recorded - start_at) < timedelta(seconds=1)


def check_min_lead_time(sandbox, sent, lead):
    if not sandbox.adapter.capabilities.scheduling:
        return
    send(sandbox, "minlead", start_at=timezone.now() + lead + timedelta(minutes=5))
    if lead:
        with pytest.raises(InvalidRequest):
            send(sandbox, "tooearly", start_at=timezone.now() + lead - timedelta(minutes=5))


def check_max_lead_time(sandbox, sent, lead):
    if not sandbox.adapter.capabilities.scheduling:
        return
    send(
        sandbox,
        "maxlead",
        start_at=timezone.now() + (lead or timedelta(days=30)) - timedelta(hours=1),
    )
    if lead:
        with pytest.raises(InvalidRequest):
            send(sandbox, "toolate", start_at=timezone.now() + lead + timedelta(hours=1))


def check_min_validity(sandbox, sent, validity):
    if validity is not None:
        send(sandbox, "minvalid", validity=validity)


def check_max_validity(sandbox, sent, validity):
    if validity is not None:
        send(sandbox, "maxvalid", validity=validity)


def check_rate_limit(sandbox, sent, supported):
    if supported:
        send(sandbox, "paced", rate_limit=100, rate_period=timedelta(minutes=1))


def check_flash(sandbox, sent, supported):
    if supported:
        send(sandbox, "flash", flash=True)


def check_flash_unicode(sandbox, sent, allowed):
    if not sandbox.adapter.capabilities.flash:
        return
    if allowed:
        send(sandbox, "flashu", flash=True, text="Привет")
    else:
        assert_not_supported(sandbox, lambda: send(sandbox, "flashu", flash=True, text="Привет"))


VOICES = {
    "tts": VoicePayload(text="Your table is ready."),
    "ssml": VoicePayload(ssml="<speak>Your table is ready.</speak>"),
    "announcement": VoicePayload(announcement_id="5b7c78389fe80f7b60af688989"),
}


def voice_send(sandbox, tag, **payload):
    caps = sandbox.adapter.capabilities
    defaults = {"voice": next(iter(caps.voices), ("", ""))[0]}
    defaults["language"] = next(iter(caps.voice_languages), ("", ""))[0]
    voice = replace(VOICES[payload.pop("kind", "tts")], **(defaults | payload))
    return send(sandbox, tag, channel="voice", voice=voice)


def check_voice_kinds(sandbox, sent, kinds):
    if "voice" not in sandbox.adapter.capabilities.channels:
        return
    for kind in VOICES:
        if kind in kinds:
            voice_send(sandbox, f"kind{kind}", kind=kind)
        else:
            assert_not_supported(sandbox, lambda kind=kind: voice_send(sandbox, "k", kind=kind))


def check_voices(sandbox, sent, voices):
    check_voice_choices(sandbox, "voice", voices)


def check_voice_languages(sandbox, sent, languages):
    check_voice_choices(sandbox, "language", languages)


def check_voice_choices(sandbox, field: str, choices) -> None:
    """Every documented value is taken; a blank one is refused before any request."""
    if "voice" not in sandbox.adapter.capabilities.channels or not choices:
        return
    for value, _label in choices:
        voice_send(sandbox, f"{field}{value}", **{field: value})
    made = len(sandbox.requests)
    with pytest.raises(InvalidRequest):
        voice_send(sandbox, f"{field}x", **{field: ""})
    assert len(sandbox.requests) == made


def check_voice_categories(sandbox, sent, categories):
    check_voice_choices(sandbox, "category", categories)


def check_sms_sender_required(sandbox, sent, required):
    if "sms" not in sandbox.adapter.capabilities.channels:
        return
    spec = CampaignSpec(sender="", text="Hello from Crier", name="No sender")

    def submit():
        return sandbox.adapter.submit(spec, outgoing(2, "nosender"), BatchState("nosender"))

    if required:
        with pytest.raises(InvalidRequest):
            submit()
    else:
        assert all(result.accepted for result in submit().results)


def check_poll_interval(sandbox, sent, interval):
    # Often enough to show a campaign moving while it delivers (the sandbox delivers within
    # LAST_FINAL_AFTER seconds), rarely enough to spare the provider.
    assert timedelta(seconds=5) <= interval <= timedelta(minutes=5)
    capabilities = sandbox.adapter.capabilities
    if capabilities.campaign_stats or capabilities.message_status:
        assert interval.total_seconds() <= delivery.LAST_FINAL_AFTER / 3


CAPABILITY_CHECKS = {
    "channels": check_channels,
    "personalised_text": check_personalised_text,
    "personalised_voice": check_personalised_voice,
    "max_batch_size": check_max_batch_size,
    "quote": check_quote,
    "stop": check_stop,
    "delete_before_start": check_delete_before_start,
    "status_by_reference": check_status_by_reference,
    "message_status": check_message_status,
    "short_links": check_short_links,
    "campaign_stats": check_campaign_stats,
    "account_info": check_account_info,
    "scheduling": check_scheduling,
    "min_lead_time": check_min_lead_time,
    "max_lead_time": check_max_lead_time,
    "min_validity": check_min_validity,
    "max_validity": check_max_validity,
    "rate_limit": check_rate_limit,
    "flash": check_flash,
    "sms_sender_required": check_sms_sender_required,
    "flash_unicode": check_flash_unicode,
    "voice_kinds": check_voice_kinds,
    "voices": check_voices,
    "voice_languages": check_voice_languages,
    "voice_categories": check_voice_categories,
    "poll_interval": check_poll_interval,
}


def test_every_capability_has_a_check():
    assert CAPABILITY_CHECKS.keys() == {field.name for field in fields(Capabilities)}


@pytest.mark.parametrize("slug", PROVIDERS)
def test_capabilities_match_what_the_adapter_does(connect, subtests, slug):
    sandbox = connect(slug)
    sent = send(sandbox, "base")

    for capability, check in CAPABILITY_CHECKS.items():
        with subtests.test(capability=capability):
            check(sandbox, sent, getattr(sandbox.adapter.capabilities, capability))
