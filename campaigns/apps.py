from django.apps import AppConfig
from django.db.models.signals import post_save


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        # Registers the tasks that services queue by name (core.queue.enqueue).
        from campaigns import tasks  # noqa: F401
        from workspaces.models import Workspace

        # A workspace's window is the default of its campaigns, also of those running: they
        # follow a change to it (workspaces sits below campaigns and cannot call them).
        post_save.connect(_workspace_saved, sender=Workspace, dispatch_uid="windows")


def _workspace_saved(sender, instance, created, **kwargs):
    if not created:
        from campaigns import services

        services.follow_workspace(instance)
