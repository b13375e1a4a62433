from celery import shared_task

from api import idempotency


@shared_task
def forget_idempotency_keys() -> dict:
    """Periodic (hourly): Idempotency-Keys are kept 24 hours."""
    return {"forgotten": idempotency.forget_old()}
