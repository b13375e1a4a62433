"""SetKeys: a saved JSON object's top-level keys set by the database, as dict.update sets them
(on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.jsonkeys import SetKeys

pytestmark = pytest.mark.django_db


@pytest.fixture
def noted(acme):
    """Any JSON object column will do: an audit event's details."""
    return AuditEvent.objects.create(
        workspace=acme.workspace,
        action="account_created",
        details={"added_0": [["a", True]], "send_requested": False, "more": {"x": 1, "y": 2}},
    )


def test_the_keys_given_are_set_and_the_others_kept(noted):
    AuditEvent.objects.filter(pk=noted.pk).update(
        details=SetKeys("details", {"added_1": [["b", False, "", "3", "Bad number"]]})
    )
    noted.refresh_from_db()
    assert noted.details == {
        "added_0": [["a", True]],
        "added_1": [["b", False, "", "3", "Bad number"]],
        "send_requested": False,
        "more": {"x": 1, "y": 2},
    }


def test_a_key_set_again_is_replaced_whole_not_merged(noted):
    notes = {"send_requested": True, "added_0": [["c", True, "42"]], "more": {"x": 3}}
    AuditEvent.objects.filter(pk=noted.pk).update(details=SetKeys("details", notes))
    noted.refresh_from_db()
    assert noted.details == notes


@pytest.mark.parametrize("notes", [{}, {"a key": 1}, {'a"b': 1}])
def test_nothing_to_set_or_a_key_no_path_can_name_is_refused(notes):
    with pytest.raises(ValueError):
        SetKeys("details", notes)
