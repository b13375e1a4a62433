"""Every model is in the admin, and every changelist renders with data in it."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

OURS = ("dashboard", "providers", "campaigns", "sandbox")


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OURS]


@pytest.mark.parametrize("model", our_models(), ids=lambda m: m._meta.label)
def test_model_is_registered(model):
    assert admin.site.is_registered(model), f"register {model._meta.label} in its admin.py"


@pytest.mark.parametrize("model", our_models(), ids=lambda m: m._meta.label)
def test_changelist_and_search_render(admin_client, acme, model):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "acme"}).status_code == 200


def test_celery_beat_periodic_tasks_are_editable(admin_client):
    url = reverse("admin:django_celery_beat_periodictask_add")
    assert admin_client.get(url).status_code == 200
