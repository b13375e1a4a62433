"""Error reports that never show a credential: the debug page, mails to ADMINS, error trackers."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

# The password of a URL such as postgres://crier:secret@db/crier or redis://:secret@cache:6379.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.I)


class CredentialSafeReporterFilter(SafeExceptionReporterFilter):
    """Cleanses local variables and POST fields by name, as Django cleanses settings.

    Django's own filter hides variables and POST fields only where a view marks them, and nothing
    at all while DEBUG is on. Provider code carries credentials in ordinary variables (headers,
    query parameters, the credentials dict) and forms post them as ``cred_*`` fields, so here every
    variable named like a secret is hidden, dicts and lists are cleansed key by key, and DEBUG
    does not turn this off: a developer's debug page is one screenshot away from a chat.
    """

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL", flags=re.IGNORECASE
    )

    def is_active(self, request) -> bool:
        return True

    def cleanse_setting(self, key, value):
        """Also hides the password inside any URL, whatever its name: CELERY_BROKER_URL,
        CACHES' LOCATION, DATABASE_URL in the environment the debug page lists."""
        value = super().cleanse_setting(key, value)
        if isinstance(value, str) and "://" in value:
            return _URL_PASSWORD.sub(lambda m: m["head"] + self.cleansed_substitute, value)
        return value

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleanse_setting(name, value)) for name, value in variables]

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if request is None or not any(map(self.hidden_settings.search, params)):
            return params
        params = params.copy()
        for name in params:
            if self.hidden_settings.search(name):
                params[name] = self.cleansed_substitute
        return params
