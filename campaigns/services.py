"""Use cases on campaigns shared by views and tasks: clone, delete, launch, pause, resume,
stop and retry. Each checks the state it starts from and leaves an audit event.

Longer than 400 lines because each use case checks the state it starts from against the same
rules (readiness, funds, the stop list) and leaves its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Sum
from django.template.defaultfilters import pluralize
from django.utils import timezone

from audit.log import record
from audit.models import Action
from campaigns import audiences, number_index, status_events, windows
from campaigns.compose import outgoing, pricing
from campaigns.models import (
    ERASED_PREFIX,
    NEW_REFERENCE_SQL,
    Batch,
    Campaign,
    CampaignCounters,
    Channel,
    Message,
    MessageTemplate,
    VoiceKind,
    by_account,
    renew_references,
)
from campaigns.sending import engine, failover
from campaigns.tracking import polling as tracking
from contacts import book
from core import statuses
from core.queue import enqueue
from core.statuses import BatchStatus, CampaignStatus, MessageStatus
from providers.base import AccountInfo
from providers.errors import NotSupported, PermanentError, ProviderError
from webhooks.models import EventType

# Fields a clone copies; everything about sending (status, reasons, times) starts afresh.
_COPIED = [
    "workspace",
    "channel",
    "account",
    "sender",
    "text",
    "voice_kind",
    "ssml",
    "announcement_id",
    "voice",
    "language",
    "voice_category",
    "placeholder_policy",
    "template",
    "rate_limit",
    "rate_period",
    "validity_minutes",
    "flash",
    "cheapest_route",
    "backup_account",
    "backup_sender",
    "failover_errors",
    "failover_minutes",
    "failover_on_account_error",
]


class CampaignRuleError(Exception):
    """The campaign is not in a state that allows this; the message says what to do."""


def clone(campaign: Campaign, user, name: str = "") -> Campaign:
    """A new draft with the same content, options and recipients (as pending messages; an
    erased contact's messages are left out)."""
    with transaction.atomic():
        # Its copies are read before an erasure replaces their number, and committed before
        # the erasure looks for them: hold_book keeps the two apart, as for a launch.
        audiences.hold_book(campaign.workspace_id)
        copy = Campaign.objects.create(
            **{field: getattr(campaign, field) for field in _COPIED},
            name=name or f"Copy of {campaign.name}"[:200],
            created_by=user,
        )
        _copy_recipients(campaign, copy)
        number_index.changed([copy.pk])
        copy.audience_lists.set(campaign.audience_lists.all())
        copy.audience_segments.set(campaign.audience_segments.all())
        copy.exclusion_lists.set(campaign.exclusion_lists.all())
        if campaign.template_id:  # one more campaign from the template
            MessageTemplate.objects.filter(pk=campaign.template_id).update(
                usage_count=F("usage_count") + 1, last_used_at=timezone.now()
            )
    return copy


def _copy_recipients(source: Campaign, target: Campaign) -> None:
    table = Message._meta.db_table
    columns = "phone, country, number_type, row_number, fields"
    now = connection.ops.adapt_datetimefield_value(target.created_at)
    # A launched campaign's audience became messages without a row number (audiences.snapshot):
    # the copy draws on the lists and segments afresh instead, as they are now.
    uploaded = " AND m.row_number IS NOT NULL" if audiences.has_audience(source) else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, reference, status, provider_message_id, "
            f"error_code, error_reason, created_at, updated_at, {columns}) "
            f"SELECT %s, {NEW_REFERENCE_SQL[connection.vendor]}, %s, '', '', '', %s, %s, "
            f"{columns} FROM {table} m WHERE m.campaign_id = %s AND m.phone NOT LIKE %s"
            f"{uploaded} ORDER BY m.id",
            [target.pk, MessageStatus.PENDING.value, now, now, source.pk, f"{ERASED_PREFIX}%"],
        )


def delete(campaign: Campaign, user=None) -> None:
    """Deletes a draft with its recipients. A campaign that sent anything is kept as a record."""
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignRuleError(
            "Only a draft can be deleted; a campaign that was launched stays as the record of "
            "what was sent."
        )
    with transaction.atomic():
        # Messages have no foreign-key constraint (models.Message): locked first, the campaign
        # waits for an import storing its messages to commit, so they are deleted too.
        Campaign.objects.select_for_update().filter(pk=campaign.pk).exists()
        record(campaign.workspace, user, Action.CAMPAIGN_DELETED, f"campaign {campaign}")
        campaign.delete()


# --- Launch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    """What launching the campaign now would do, or why it cannot; the confirmation page."""

    problems: tuple[str, ...]  # each blocks the launch
    estimate: pricing.PriceEstimate | None
    balance: pricing.BalanceCheck | None
    stop_listed: int  # pending recipients now on the stop list; they will be left out

    @property
    def ready(self) -> bool:
        return not self.problems


def readiness(campaign: Campaign, *, funds: AccountInfo | pricing.Funds | None = None) -> Readiness:
    """Checks everything a launch checks, without changing anything. ``funds``: what the
    caller already asked the providers (the campaign's account's AccountInfo, or
    ``pricing.Funds``); what it lacks is asked here (an HTTP call to each provider)."""
    if not isinstance(funds, pricing.Funds):
        funds = pricing.Funds(campaign, own=funds)
    problems = content_problems(campaign)
    estimate = balance = None
    readable = not audiences.problem(campaign)
    if campaign.account is not None and campaign.account.is_active and readable:
        estimate = pricing.estimate(campaign)
        try:
            own = funds.of(campaign.account)
        except ProviderError as error:
            own = None
            problems.append(f"Crier could not read the balance: {error}")
        # Each account pays its own share: with the cheapest route, each is asked.
        balance = pricing.check_balance(estimate.share(None), own)
        if balance.blocks_sending:
            problems.append(balance.message)
        problems += _route_problems(campaign, estimate, funds)
    return Readiness(tuple(problems), estimate, balance, _stop_listed(campaign).count())


def _route_problems(
    campaign: Campaign, estimate: pricing.PriceEstimate, funds: pricing.Funds
) -> list[str]:
    """Whether the funds of each other account of the cheapest route cover its share."""
    problems = []
    for account in pricing.route_accounts(campaign, estimate):
        try:
            check = pricing.check_balance(estimate.share(account.pk), funds.of(account))
        except ProviderError as error:
            problems.append(f"Crier could not read the balance of {account.name}: {error}")
            continue
        if check.blocks_sending:
            problems.append(f"{account.name}, which sends part of this campaign: {check.message}")
    return problems


# The compose step where each field a provider may refuse (providers.base.Refusal) is set.
STEP_OF = {"channel": 1, "sender": 1, "flash": 4, "validity": 4, "start_at": 4}


def content_problems(campaign: Campaign) -> list[str]:
    """What blocks the launch in the campaign itself, its recipients and what its provider
    takes (outgoing.refusals), without asking the provider anything: the preview shows
    these, the launch page adds the balance."""
    return list(_content_problems(campaign))


def _content_problems(campaign: Campaign):
    account = campaign.account
    if campaign.status != CampaignStatus.DRAFT:
        yield f"The campaign is {campaign.get_status_display().lower()}, not a draft."
    if account is None:
        yield "Choose a provider account in step 1."
        return
    if not account.is_active:
        yield f"The account {account.name} is disabled: enable it or choose another."
    if campaign.channel == Channel.SMS:
        if not campaign.text.strip():
            yield "Write the message in step 2."
    else:
        content = {VoiceKind.SSML: campaign.ssml, VoiceKind.ANNOUNCEMENT: campaign.announcement_id}
        if not content.get(campaign.voice_kind, campaign.text).strip():
            yield "Write the text to speak, the SSML or the announcement in step 2."
    for refusal in outgoing.refusals(campaign):
        yield f"Step {STEP_OF.get(refusal.field, 2)}: {refusal.message}"
    if campaign.start_at and campaign.start_at < timezone.now():
        yield "The start time has passed: choose a later one in step 4, or send now."
    if never := windows.never_opens(campaign):
        yield never
    if broken := audiences.problem(campaign):
        yield broken
    elif not campaign.messages.filter(status=MessageStatus.PENDING).exists():
        if not audiences.has_audience(campaign):
            yield "Add recipients in step 3."
        elif not audiences.contacts(campaign).exists():
            yield (
                "Step 3: the chosen lists and segments reach nobody once exclusions and "
                "opt-outs are taken away; choose others or upload recipients."
            )


def _stop_listed(campaign: Campaign):
    numbers = book.opted_out_phones(campaign.workspace_id)
    return campaign.messages.filter(status=MessageStatus.PENDING, phone__in=numbers)


def launch(
    campaign: Campaign,
    user,
    *,
    confirm_unpriced: bool = False,
    funds: AccountInfo | pricing.Funds | None = None,
) -> Campaign:
    """Moves a ready draft to ``scheduled`` (the beat task starts it at its time) with its
    price estimate frozen. Launches once: a second request (a double click, another tab) finds
    the campaign no longer a draft and is refused, changing nothing. ``funds`` as readiness
    takes them; a caller inside a transaction reads them before it (``pricing.Funds``)."""
    # What the check prices, summed up: the launch refuses if it changed before the launch
    # held the campaign (an import that committed meanwhile: review r22).
    try:
        priced, _ = pricing.fingerprint(campaign)
    except audiences.BrokenSegment:
        priced = None  # the check says why it cannot launch
    check = readiness(campaign, funds=funds)
    if not check.ready:
        raise CampaignRuleError(" ".join(check.problems))
    if check.estimate.needs_confirmation and not confirm_unpriced:
        raise CampaignRuleError(
            f"{check.estimate.unpriced_messages:,} recipients are in countries without a rate: "
            "confirm that you accept an unknown price for them, or add their rates."
        )
    estimate = check.estimate
    with transaction.atomic():
        audiences.hold_book(campaign.workspace_id)  # before any row lock: see its doc
        launched = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DRAFT).update(
            status=CampaignStatus.SCHEDULED,
            status_reason="",
            launched_at=timezone.now(),
            launched_by=user,
            next_attempt_at=None,
            consecutive_errors=0,
            updated_at=timezone.now(),
        )
        if not launched:
            raise CampaignRuleError("This campaign was launched already.")
        # No longer a draft, so no import adds to it from here; one may have just before.
        if pricing.fingerprint(campaign)[0] != priced:
            raise CampaignRuleError(
                "The recipients or the prices changed while the launch checked them (an "
                "import finished, or a rate was edited): check the price and launch again."
            )
        left_out = status_events.update(
            campaign.workspace_id,
            _stop_listed(campaign),
            status=MessageStatus.CANCELLED,
            error_code="stop_listed",
            error_reason="The number was on the stop list at launch.",
        )
        if left_out:  # the estimate priced them: price what is sent (review r22)
            estimate = pricing.estimate(campaign)
        Campaign.objects.filter(pk=campaign.pk).update(estimate=_frozen(campaign, estimate))
        # The audience becomes messages now, in this transaction: from here on, changes to
        # the lists, segments and contacts do not change who the campaign sends to.
        from_book = audiences.snapshot(campaign)
        if from_book:
            number_index.changed([campaign.pk])
        zones = windows.assign_zones(campaign)
        if zones and (never := windows.never_opens(campaign, zones)):
            raise CampaignRuleError(never)  # in no recipient's zone: the launch is undone
        recipients = CampaignCounters.objects.filter(campaign=campaign).values_list(
            "pending", flat=True
        )
        recipients = recipients.first() or 0
        if not recipients:  # the audience emptied since the check: the launch is undone
            raise CampaignRuleError(
                "Nobody is left to send to: the lists and segments reach no one now. "
                "Check the recipients in step 3."
            )
        if campaign.spread_hours:  # "spread over N hours" becomes the pace that does it
            campaign.rate_limit = windows.spread_rate(recipients, campaign.spread_hours)
            campaign.rate_period = 3600
            Campaign.objects.filter(pk=campaign.pk).update(
                rate_limit=campaign.rate_limit, rate_period=3600
            )
        record(
            campaign.workspace,
            user,
            Action.CAMPAIGN_LAUNCHED,
            f"campaign {campaign}",
            campaign_id=campaign.pk,
            recipients=recipients,
            from_contacts=from_book,
            left_out=left_out,
            estimate=str(estimate.total),
            currency=estimate.currency,
            start_at=campaign.start_at,
            **windows.audit_fields(campaign, zones),
            **pricing.route_summary(campaign, estimate),
        )
        # The chart's starting point: every recipient still to send.
        tracking.snapshot_if_changed(campaign)
        status_events.campaign_changed(campaign, EventType.CAMPAIGN_LAUNCHED)
    campaign.refresh_from_db()
    return campaign


def _frozen(campaign: Campaign, estimate: pricing.PriceEstimate) -> dict:
    """Campaign.estimate: the figures the launch accepted, with the cheapest route's split."""
    return {
        "total": str(estimate.total),
        "currency": estimate.currency,
        "messages": estimate.messages,
        "segments": estimate.segments,
        "unpriced_messages": estimate.unpriced_messages,
        **pricing.route_summary(campaign, estimate),
    }


# --- Pause, resume, stop, retry ------------------------------------------------------------

PAUSABLE = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)
STOPPABLE = (
    CampaignStatus.SCHEDULED,
    CampaignStatus.MODERATION,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)
RETRYABLE = (
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
    CampaignStatus.SENT,
    CampaignStatus.COMPLETED,
    CampaignStatus.FAILED,
)


def _transition(campaign, user, action, allowed, refusal: str, **changes) -> Campaign:
    with transaction.atomic():
        moved = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(
            **changes, updated_at=timezone.now()
        )
        if not moved:
            raise CampaignRuleError(refusal)
        record(campaign.workspace, user, action, f"campaign {campaign}", campaign_id=campaign.pk)
        status_events.campaign_changed(campaign, _EVENTS[action])
    campaign.refresh_from_db()
    return campaign


_EVENTS = {
    Action.CAMPAIGN_PAUSED: EventType.CAMPAIGN_PAUSED,
    Action.CAMPAIGN_RESUMED: EventType.CAMPAIGN_RESUMED,
}


def follow_workspace(workspace, now=None) -> int:
    """The workspace's settings were saved: its launched campaigns without a window of their
    own follow its window as it is now. One launched while the workspace had none gets its
    zones fixed now (those it may still send: pending, or being submitted and maybe given
    back); one asleep until an opening wakes at the new window's first opening, if sooner.
    Returns how many campaigns it looked at."""
    now = now or timezone.now()
    following = list(
        Campaign.objects.filter(workspace=workspace, send_window="", status__in=windows.RUNNING)
    )
    for campaign in following:
        if not windows.zone_keys(campaign):
            windows.assign_zones(campaign, (MessageStatus.PENDING, MessageStatus.SUBMITTING))
        asleep = campaign.status == CampaignStatus.SENDING and campaign.next_attempt_at
        if not asleep or campaign.next_attempt_at <= now or not windows.zone_keys(campaign):
            continue
        rules = windows.rules_for(campaign)
        if any(rules.is_open(key, now) for key in windows.zone_keys(campaign)):
            opening = now
        else:
            opening = (windows.next_opening(campaign, now) or (None,))[0]
        if opening and opening < campaign.next_attempt_at:
            Campaign.objects.filter(pk=campaign.pk).update(next_attempt_at=opening)
    return len(following)


def pause(campaign: Campaign, user) -> Campaign:
    """Holds every batch not yet handed to the provider; batches already out go on."""
    return _transition(
        campaign,
        user,
        Action.CAMPAIGN_PAUSED,
        PAUSABLE,
        "Only a scheduled or sending campaign can be paused.",
        status=CampaignStatus.PAUSED,
        status_reason="Paused by " + (user.get_username() if user else "Crier") + ".",
        next_attempt_at=engine.next_lookup(campaign),
    )


def resume(campaign: Campaign, user) -> Campaign:
    """Back to sending (or scheduled, before its start time), with the error count reset."""
    later = campaign.start_at and campaign.start_at > timezone.now()
    return _transition(
        campaign,
        user,
        Action.CAMPAIGN_RESUMED,
        (CampaignStatus.PAUSED,),
        "Only a paused campaign can be resumed.",
        status=CampaignStatus.SCHEDULED if later else CampaignStatus.SENDING,
        status_reason="",
        consecutive_errors=0,
        next_attempt_at=None,
    )


def stop(campaign: Campaign, user) -> int:
    """Stops for good: pending messages and batches not yet handed over are cancelled at
    once, and a task asks the provider to stop what it holds. Returns the messages cancelled
    here."""
    now = timezone.now()
    with transaction.atomic():
        moved = Campaign.objects.filter(pk=campaign.pk, status__in=STOPPABLE).update(
            status=CampaignStatus.CANCELLED,
            status_reason="Stopped by " + (user.get_username() if user else "Crier") + ".",
            updated_at=now,
            next_attempt_at=engine.next_lookup(campaign),
        )
        if not moved:
            raise CampaignRuleError("Only a scheduled, sending or paused campaign can be stopped.")
        # Claimed batches never left; held ones (smsdrop without credits) are never relaunched.
        held = Batch.objects.filter(
            campaign=campaign, status__in=[BatchStatus.CLAIMED, BatchStatus.HELD]
        )
        # Locked, so a worker's flip to submitting (HeldBatch._submit) either committed before
        # (the batch is not here, its messages go out and are tracked) or waits and then finds
        # it cancelled: only the messages of the batches cancelled here are cancelled.
        held_ids = list(held.select_for_update().values_list("pk", flat=True))
        Batch.objects.filter(pk__in=held_ids).update(status=BatchStatus.CANCELLED, updated_at=now)
        stopped = {
            "status": MessageStatus.CANCELLED,
            "error_reason": engine.STOPPED_BEFORE_SENT,
            "updated_at": now,
        }
        pending = Message.objects.filter(campaign=campaign, status=MessageStatus.PENDING)
        count = status_events.update(campaign.workspace_id, pending, **stopped)
        held = Message.objects.filter(batch__in=held_ids, status=MessageStatus.SUBMITTING)
        count += status_events.update(campaign.workspace_id, held, **stopped)
        record(
            campaign.workspace,
            user,
            Action.CAMPAIGN_STOPPED,
            f"campaign {campaign}",
            campaign_id=campaign.pk,
            cancelled=count,
        )
        status_events.campaign_changed(campaign, EventType.CAMPAIGN_STOPPED)
        enqueue("campaigns.tasks.stop_provider_side", campaign.pk)
    campaign.refresh_from_db()
    return count


def stop_provider_side(campaign_id: int) -> dict:
    """Asks the provider to stop (or delete, before it starts) each campaign it holds for
    this one, and writes down plainly what will still go out. Run again when a batch that was
    in flight at the stop comes back: only batches not asked yet are asked."""
    campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.CANCELLED:
        return {"skipped": "not stopped"}
    adapter_class = campaign.account.adapter_class
    asked = 0
    unasked = campaign.batches.filter(status=BatchStatus.SUBMITTED, stopped__isnull=True)
    # Each batch is stopped through the account it went through.
    for account, batches in by_account(campaign, unasked.exclude(provider_campaign_id="")).items():
        with account.adapter() as adapter:
            for batch in batches:
                stopped, result = _stop_one(adapter, account.adapter_class, batch)
                Batch.objects.filter(pk=batch.pk).update(stopped=stopped, stop_result=result)
                asked += 1
    out = campaign.batches.filter(status=BatchStatus.SUBMITTED)
    still_going = sum(out.filter(stopped=False).values_list("accepted", flat=True))
    in_flight = campaign.batches.filter(status=BatchStatus.SUBMITTING).exists()
    if still_going:
        report = (
            f"{still_going:,} messages already handed to {adapter_class.label} will still go out."
        )
    elif out.filter(stopped=True).exists():
        report = f"Nothing else will go out: {adapter_class.label} stopped what it held."
    else:
        report = "Nothing had been handed to the provider yet."
    if in_flight:
        report += " One batch was being handed over at the stop; Crier will report on it."
    Campaign.objects.filter(pk=campaign.pk).update(stop_report=report)
    return {"asked": asked, "still_going": still_going}


def _stop_one(adapter, adapter_class, batch) -> tuple[bool, str]:
    capabilities, label = adapter_class.capabilities, adapter_class.label
    if batch.remote_status in statuses.FINISHED:
        return False, f"{label} had already finished this batch."
    try:
        if capabilities.stop:
            adapter.stop(batch.provider_campaign_id)
            return True, f"Stopped at {label}."
        if capabilities.delete_before_start:
            adapter.delete(batch.provider_campaign_id)
            return True, f"Deleted at {label} before it started."
    except NotSupported:
        pass
    except PermanentError as error:
        return False, str(error)
    except ProviderError as error:
        return False, f"{label} did not confirm the stop: {error}"
    return False, f"{label} offers no way to stop a campaign once it has it."


@dataclass(frozen=True)
class RetryPlan:
    """What Retry would do: ``again``, messages the provider certainly did not take (it
    refused their batch before taking it, or had no trace of it once it could no longer be
    working on it); ``checking``, messages whose batch Crier is still looking up at the
    provider; ``unknown``, messages Crier could not confirm and never sends again."""

    provider: str  # the one that refused them ("the provider" when several may have)
    again: int
    checking: int
    unknown: int  # shown as Unknown: never confirmed, or no final report
    sends: str = ""  # the one that sends them again, when not ``provider`` (a failover)
    too_late: int = 0  # failed messages the deadline would expire unsent, left out
    deadline_passed: str = ""  # why nothing can be retried: the deadline has passed

    @property
    def confirmation(self) -> str:
        sentences = [
            f"Send {self.again:,} failed message{pluralize(self.again)} again, as a new "
            f"attempt? {self.provider[:1].upper()}{self.provider[1:]} refused "
            f"{'them' if self.again != 1 else 'it'} before taking anything, so nothing was "
            f"charged for them; they will be charged if {self.sends or self.provider} "
            "accepts them now."
        ]
        if self.too_late:
            sentences.append(
                f"{self.too_late:,} other failed message{pluralize(self.too_late)} "
                f"{pluralize(self.too_late, 'is,are')} not included: "
                "the window of their recipients does not open again before the deadline."
            )
        if self.checking:
            sentences.append(
                f"{self.checking:,} other message{pluralize(self.checking)} are not included: "
                f"Crier is still checking with {self.provider} whether it took them, and "
                "sends them again only if it did not."
            )
        if self.unknown:
            sentences.append(
                f"{self.unknown:,} message{pluralize(self.unknown)} shown as Unknown "
                f"{pluralize(self.unknown, 'is,are')} not included: {self.provider} may have "
                "taken them; check them there."
            )
        return " ".join(sentences)


def _certainly_not_taken(campaign: Campaign):
    """Failed messages: their batch was refused before the provider took it. A batch the
    provider called a duplicate never counts, whatever became of its messages. An erased
    contact's message never goes again."""
    failed = Message.objects.filter(campaign=campaign, status=MessageStatus.FAILED)
    return failed.exclude(batch__provider_has_it=True).exclude(phone__startswith=ERASED_PREFIX)


def retry_plan(campaign: Campaign, counters, checking: int | None = None) -> RetryPlan:
    """For the campaign page: from the counters and the open batches, never by counting a
    campaign's messages. ``checking``: the messages of its batches being looked up
    (tracking.costs.billing() counts them), when the caller has them."""
    if checking is None:
        unknown = campaign.batches.filter(status=BatchStatus.UNKNOWN)
        checking = unknown.aggregate(n=Sum("size"))["n"] or 0
    routed = campaign.failed_over_at or campaign.routed_countries()
    # Counted only under a deadline, and only the failed messages of zones that miss it (no
    # query is built without one: the live part asks on every poll).
    too_late = counters.failed if windows.past_deadline(campaign) else 0
    if not too_late and campaign.deadline:
        failed = Message.objects.filter(campaign=campaign, status=MessageStatus.FAILED)
        too_late = windows.too_late(campaign, failed).count()
    return RetryPlan(
        provider="the provider" if routed else campaign.account.adapter_class.label,
        sends=campaign.backup_account.adapter_class.label if campaign.failed_over_at else "",
        again=max(counters.failed - too_late, 0),
        checking=checking,
        unknown=counters.unknown,
        too_late=too_late,
        deadline_passed=_deadline_passed(campaign),
    )


def _deadline_passed(campaign: Campaign) -> str:
    if not windows.past_deadline(campaign):
        return ""
    when = windows.deadline_text(campaign)
    return f"The deadline passed at {when} — clone the campaign to send again."


def retry_failed(campaign: Campaign, user) -> int:
    """Failed messages the provider certainly did not take go again as a new attempt, each
    under a new reference (the provider may know the old one). Messages whose fate is still
    being looked up, or is unknown, never go again from here. Returns how many; the campaign
    goes back to sending."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if locked is None or locked.status not in RETRYABLE:
            raise CampaignRuleError("Only a launched campaign that is not stopped can be retried.")
        if passed := _deadline_passed(locked):
            raise CampaignRuleError(passed)
        again = _certainly_not_taken(campaign)
        late = windows.too_late(locked, again)
        count = _renew_references(campaign, again.exclude(pk__in=late))
        if not count and late.exists():
            raise CampaignRuleError(
                "No failed message can go before the deadline, "
                f"{windows.deadline_text(locked)}: clone the campaign to send again."
            )
        if not count:
            raise CampaignRuleError("No message failed: there is nothing to retry.")
        if locked.failed_over_at:  # what goes again from the failed primary, goes to the backup
            failover.move(locked, Message.objects.filter(campaign=campaign))
        status = locked.status if locked.status == CampaignStatus.PAUSED else CampaignStatus.SENDING
        Campaign.objects.filter(pk=campaign.pk).update(
            status=status,
            status_reason="",
            consecutive_errors=0,
            next_attempt_at=None,
            submitted_at=None,
            updated_at=timezone.now(),
        )
        record(
            campaign.workspace,
            user,
            Action.CAMPAIGN_RETRIED,
            f"campaign {campaign}",
            campaign_id=campaign.pk,
            messages=count,
        )
    campaign.refresh_from_db()
    return count


def _renew_references(campaign: Campaign, messages) -> int:
    """Failed messages back to pending under new references (each told to webhooks)."""
    ids = list(messages.values_list("pk", flat=True))
    changes = (
        "status = %s, batch_id = NULL, provider_message_id = '', error_code = '', "
        "error_reason = '', attempt = attempt + 1, updated_at = %s"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    for chunk, _changed in renew_references(ids, changes, [MessageStatus.PENDING.value, now]):
        status_events.report(campaign.workspace_id, Message.objects.filter(pk__in=chunk))
    return len(ids)
