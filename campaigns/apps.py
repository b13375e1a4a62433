from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        # Registers the tasks that services queue by name (core.queue.enqueue).
        from campaigns import tasks  # noqa: F401
