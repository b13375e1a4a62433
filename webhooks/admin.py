"""Endpoints and deliveries, read-mostly for staff; workspaces manage them on /webhooks/."""

from django.contrib import admin

from webhooks.models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "workspace", "enabled", "failing_since"]
    list_filter = ["enabled"]
    exclude = ["secret", "previous_secret"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["pk", "endpoint", "event", "status", "attempts", "status_code", "latency_ms"]
    list_filter = ["status"]
    raw_id_fields = ["endpoint", "event"]
