from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Public API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from api import schema, tasks  # noqa: F401  (the OpenAPI extensions, Celery tasks)
