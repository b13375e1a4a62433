from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self):
        # Registers the tasks that services queue by name (core.queue.enqueue).
        from contacts import tasks  # noqa: F401
