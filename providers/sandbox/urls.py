"""Each emulator under its provider's slug: an account's base URL is …/sandbox/<slug>."""

from django.urls import include, path

urlpatterns = [
    path("bsg/", include("providers.sandbox.bsg")),
    path("mobizon/", include("providers.sandbox.mobizon")),
    path("smsdrop/", include("providers.sandbox.smsdrop")),
    path("conpeek/", include("providers.sandbox.conpeek")),
]
