from django.apps import AppConfig
from django.db.models.signals import post_save


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        # Registers the tasks that services queue by name (core.queue.enqueue).
        from campaigns import tasks  # noqa: F401
        from contacts.models import Contact
        from contacts.signals import contacts_added
        from workspaces.models import Workspace

        # A workspace's window is the default of its campaigns, also of those running: they
        # follow a change to it (workspaces sits below campaigns and cannot call them).
        post_save.connect(_workspace_saved, sender=Workspace, dispatch_uid="windows")
        # New contacts take the engagement their numbers had before (engagement.backfill).
        post_save.connect(_contact_saved, sender=Contact, dispatch_uid="engagement")
        contacts_added.connect(_contacts_added, dispatch_uid="engagement")


def _workspace_saved(sender, instance, created, **kwargs):
    if not created:
        from campaigns import services

        services.follow_workspace(instance)


def _contact_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        _contacts_added(sender, workspace_id=instance.workspace_id, since=instance.created_at)


def _contacts_added(sender, workspace_id, since, **kwargs):
    from core.queue import enqueue

    enqueue("campaigns.tasks.backfill_engagement", workspace_id, since.isoformat())
