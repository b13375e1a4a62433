"""r23 review: a segment's conditions whose rule names its field or op as a JSON array or
object are a 500 on POST /api/v1/segments (and PATCH), not a 400 naming ``conditions``.

contacts.segments._rule checks ``name not in fields`` and ``op not in ops``, where ``fields``
and ``ops`` are dicts: a list or dict ``field`` / ``op`` from the request's JSON is unhashable,
so the membership test raises TypeError before any InvalidConditions; api.views.book._conditions
only turns InvalidConditions into a 400. The serializer (SegmentInputSerializer.conditions, a
DictField) does not look inside the rules.
"""

from __future__ import annotations

import pytest

from contacts.models import Segment

V1 = "/api/v1/"


@pytest.mark.parametrize(
    "rule",
    [
        {"field": ["name"], "op": "is", "value": "Ann"},
        {"field": {"name": 1}, "op": "is", "value": "Ann"},
        {"field": "name", "op": ["is"], "value": "Ann"},
        {"field": "name", "op": "is", "value": ["Ann"]},  # was saved as the text "['Ann']"
    ],
)
def test_a_rule_with_an_array_or_object_for_its_field_or_op_is_a_400(api, acme, rule):
    before = Segment.objects.count()

    response = api.post(
        V1 + "segments", {"name": "Odd", "conditions": {"rules": [rule]}}, format="json"
    )

    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert Segment.objects.count() == before
