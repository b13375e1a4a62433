"""r23 review: a custom field whose key Django reads as a lookup path makes segments (and so
campaign audiences, the contacts page's field search and the REJECT placeholder check) answer
wrong, or fail with a 500 on SQLite.

contacts.segments._field_q (and campaigns.audiences._missing, contacts.fields.holders_of_choice)
build ``Q(**{f"fields__{key}": ...})`` from the field's key. The key is any slug (the fields
form's SlugField, contacts.mapping.new_key keeps "__"), so Django splits it: "utm__source"
becomes the nested path fields -> utm -> source, "gt" and "has_key" become lookups on
``fields`` itself, and "contains" is the JSON containment lookup SQLite does not support
(NotSupportedError). "is not empty" then finds nobody of the contacts who hold a value, and
"is empty" finds them all, so a campaign drawing on such a segment sends to the wrong people.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts import segments
from contacts.models import Contact, ContactField, FieldKind
from workspaces.models import Role


@pytest.mark.parametrize("key", ["utm__source", "gt", "has_key", "contains"])
def test_a_fields_empty_and_not_empty_rules_find_who_holds_a_value(acme, key):
    ContactField.objects.create(workspace=acme.workspace, key=key, label="Source")
    holder = Contact.objects.create(
        workspace=acme.workspace, phone="+77015559911", country="KZ", fields={key: "google"}
    )

    def found(op, value=None):
        rule = {"field": f"field:{key}", "op": op, "value": value}
        return set(segments.members(acme.workspace, {"rules": [rule]}).values_list("pk", flat=True))

    assert holder.pk in found("not_empty")
    assert holder.pk not in found("empty")
    assert found("is", "google") == {holder.pk}


def test_the_contacts_page_searches_a_field_keyed_contains(as_role, acme):
    ContactField.objects.create(
        workspace=acme.workspace, key="contains", label="Contains", kind=FieldKind.TEXT
    )
    Contact.objects.create(
        workspace=acme.workspace, phone="+77015559912", country="KZ", fields={"contains": "nuts"}
    )

    response = as_role(Role.VIEWER).get(
        reverse("contact_list"), {"field": "contains", "value": "nuts"}
    )

    assert response.status_code == 200
    assert "+77015559912" in response.text or "701 555 9912" in response.text
