from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the task that events.record queues by name (core.queue.enqueue).
        from webhooks import tasks  # noqa: F401
