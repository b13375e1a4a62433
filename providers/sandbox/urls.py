"""Each emulator under its provider's slug: an account's base URL is …/sandbox/<slug>."""

from django.http import JsonResponse
from django.urls import include, path

from providers.sandbox.http import not_found

urlpatterns = [
    path("bsg/", include("providers.sandbox.bsg")),
    path("mobizon/", include("providers.sandbox.mobizon")),
    path("smsdrop/", include("providers.sandbox.smsdrop")),
    path("conpeek/", include("providers.sandbox.conpeek")),
    not_found(lambda path: JsonResponse({"message": "No such sandbox provider."}, status=404)),
]
