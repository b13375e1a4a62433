from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from core.web import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("", include("overview.urls")),
    path("", include("workspaces.urls")),
    path("", include("providers.urls")),
    path("", include("contacts.urls")),
    path("", include("campaigns.urls")),
    path("", include("audit.urls")),
    path("", include("api.urls")),
    path("", include("webhooks.urls")),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX:
    urlpatterns.append(path("sandbox/", include("providers.sandbox.urls")))
