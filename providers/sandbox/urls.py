"""Each provider's emulator under its slug: an account's base URL is …/sandbox/<slug>.

The slug is looked up in the registry on every request, so every registered provider is served
(a test's fake provider too) without a URL pattern per provider here.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import re_path, resolve
from django.views.decorators.csrf import csrf_exempt

from providers import registry
from providers.sandbox.http import not_found


@csrf_exempt
@login_not_required
def emulator(request, slug, path):
    """Serve ``path`` from the ``urlpatterns`` of the provider's emulator module."""
    try:
        urlconf = registry.package(slug).module("emulator")
    except registry.UnknownProvider:
        return _no_such_provider(path)
    request.resolver_match = match = resolve(f"/{path}", urlconf=urlconf)
    return match.func(request, *match.args, **match.kwargs)


def _no_such_provider(path: str) -> JsonResponse:
    return JsonResponse({"message": "No such sandbox provider."}, status=404)


urlpatterns = [
    re_path(r"^(?P<slug>[^/]+)/(?P<path>.*)$", emulator),
    not_found(_no_such_provider),
]
