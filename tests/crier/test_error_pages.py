"""A missing page and a server error each get a page in Crier's own style; the icon is
served where browsers look for it."""

from __future__ import annotations

import pytest
from django.template.loader import get_template
from django.test import Client
from django.urls import reverse


def test_a_missing_page_is_crier_s_own(as_role):
    response = as_role("viewer").get("/no/such/page/")
    assert response.status_code == 404
    html = response.text
    assert 'data-testid="not-found"' in html and "This page does not exist" in html
    assert 'data-testid="workspace-menu"' in html  # the navigation is there to go on from


def test_a_foreign_object_reads_the_same_as_a_missing_one(as_role, globex):
    response = as_role("owner").get(reverse("campaign_detail", args=[globex.campaign.pk]))
    assert response.status_code == 404 and 'data-testid="not-found"' in response.text


def test_the_server_error_page_needs_no_request():
    html = get_template("500.html").render({})  # what django.views.defaults.server_error does
    assert "Something went wrong on our side" in html
    assert "/static/css/crier.css" in html and "<script" not in html


@pytest.mark.urls("tests.crier.failing_urls")
def test_an_exception_shows_the_server_error_page(db, settings):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500 and 'data-testid="server-error"' in response.text


def test_the_favicon_is_linked_and_served_without_logging_in(client, as_role):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url == "/static/favicon.ico"
    assert client.get(response.url).headers["Content-Type"] in {
        "image/x-icon", "image/vnd.microsoft.icon",
    }  # fmt: skip
    assert 'href="/static/favicon.ico"' in as_role("viewer").get(reverse("overview")).text
