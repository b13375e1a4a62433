"""Thin Celery tasks: ids in, one service call, a small summary out."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from campaigns import engagement, number_index, services
from campaigns.compose import pricing
from campaigns.recipients import imports
from campaigns.sending import engine as sending
from campaigns.tracking import polling as tracking


@shared_task
def run_import(import_id: int) -> dict:
    return imports.run(import_id)


@shared_task
def fail_abandoned_imports() -> dict:
    """Periodic (every 30 s): fail the imports a dead worker left running."""
    return {"failed": imports.fail_abandoned()}


@shared_task
def dispatch_campaigns() -> dict:
    """Periodic (every 2 s): start due campaigns and hand sending ones to workers."""
    return sending.dispatch_due(send_campaign.delay_on_commit)


@shared_task
def send_campaign(campaign_id: int) -> dict:
    try:
        return {"campaign": campaign_id, **sending.run(campaign_id)}
    finally:
        sending.release(campaign_id)


@shared_task
def stop_provider_side(campaign_id: int) -> dict:
    """After a stop: stop or delete the provider-side campaigns where the provider allows."""
    return {"campaign": campaign_id, **services.stop_provider_side(campaign_id)}


@shared_task
def price_campaign(estimate_id: int, token: str) -> dict:
    """Prices a campaign too big for the preview to wait for (see pricing.estimate_or_job)."""
    return pricing.run(estimate_id, token)


@shared_task
def poll_campaigns() -> dict:
    """Periodic (every 2 s): hand each campaign in flight whose poll is due to a worker, under
    a lease, so a campaign still being polled is skipped rather than queued twice."""
    return tracking.poll_due(poll_campaign.delay_on_commit)


@shared_task
def poll_campaign(campaign_id: int) -> dict:
    """One poll of one campaign (the lease was taken by poll_campaigns or the admin)."""
    return tracking.run(campaign_id)


@shared_task
def backfill_engagement(workspace_id: int, since: str) -> dict:
    """Contacts created at or after ``since`` (ISO 8601) get the engagement their numbers had
    before they were contacts (queued by campaigns.apps when contacts are added)."""
    when = datetime.fromisoformat(since)
    return {"contacts": engagement.backfill(workspace_id, when)}


@shared_task
def roll_up_engagement() -> dict:
    """Periodic (every minute): carry the messages of batches updated since the last run into
    their contacts' last sent and last delivered dates, which segments read."""
    return engagement.roll_up()


@shared_task
def fill_number_indexes() -> dict:
    """Periodic (every 30 s): the number indexes left incomplete by new messages."""
    return number_index.fill_due()
