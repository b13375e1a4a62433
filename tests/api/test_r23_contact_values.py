"""r23 review: custom field values the API's contact serializer lets through and the contact
form then fails on, as a 500 instead of a 400 naming the field.

- A date field given as a JSON number (``{"day": 20260101}``): ContactInputSerializer.
  validate_fields (api/serializers_book.py) accepts any string or number; api.views.book.
  _save_contact hands the int to the contact form, whose forms.DateField calls ``.strip()``
  on it (AttributeError).
- A text field given a lone surrogate (``"\\ud800"``, valid JSON): the API's own CharFields
  refuse it (name, phone: "Surrogate characters are not allowed"), but a custom field's value
  goes through contacts.forms._input_for's plain forms.CharField, which does not: PostgreSQL's
  driver cannot encode it (500); on SQLite the view gets past the save and rendering the
  response raises UnicodeEncodeError.
"""

from __future__ import annotations

import pytest

from contacts.models import Contact, ContactField, FieldKind

V1 = "/api/v1/"


@pytest.mark.parametrize(
    "body",
    [
        '{"phone": "+77015550199", "fields": {"day": 20260101}}',
        '{"phone": "+77015550199", "fields": {"city": "\\ud800"}}',
    ],
    ids=["date-as-number", "lone-surrogate"],
)
def test_an_odd_custom_value_is_a_400_and_stores_nothing(api, acme, body):
    ContactField.objects.create(
        workspace=acme.workspace, key="day", label="Day", kind=FieldKind.DATE
    )

    response = api.generic("POST", V1 + "contacts", body, content_type="application/json")

    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert response.json()["errors"][0]["field"].startswith("fields")
    assert not Contact.objects.filter(phone="+77015550199").exists()
