"""Small web helpers every app's views share."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_htmx.http import HttpResponseClientRedirect


def done(request, url_name: str, *args):
    """After a successful form: HTMX is told to load the page, a plain POST is redirected."""
    if request.htmx:
        return HttpResponseClientRedirect(reverse(url_name, args=args))
    return redirect(url_name, *args)


@require_safe
@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; the icon lives with the static
    files (hashed in production), so this points there."""
    return redirect(static("favicon.ico"))
