"""contacts.segments: conditions are checked rule by rule, and each operator picks exactly the
contacts it names, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts import segments
from contacts.models import Contact, ContactField, ContactList, FieldKind, ListMember, Segment
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    """Four contacts with typed fields, one list, one opted out, engagement of every age."""
    workspace = Workspace.objects.create(name="Book", default_country="KZ")
    ContactField.objects.create(workspace=workspace, key="city", label="City")
    ContactField.objects.create(workspace=workspace, key="age", label="Age", kind=FieldKind.NUMBER)
    ContactField.objects.create(
        workspace=workspace, key="joined", label="Joined", kind=FieldKind.DATE
    )
    ContactField.objects.create(
        workspace=workspace,
        key="tier",
        label="Tier",
        kind=FieldKind.CHOICE,
        choices=["gold", "silver"],
    )
    now = timezone.now()
    people = {
        "ann": dict(
            phone="+77010000001",
            country="KZ",
            name="Ann Lee",
            language="en",
            fields={"city": "Almaty", "age": 30, "joined": "2024-05-01", "tier": "gold"},
            last_sent_at=now - timedelta(days=3),
            last_delivered_at=now - timedelta(days=3),
        ),
        "bob": dict(
            phone="+77010000002",
            country="KZ",
            name="Bob Stone",
            fields={"city": "Astana", "age": 45.5, "joined": "2023-01-10", "tier": "silver"},
            last_sent_at=now - timedelta(days=200),
        ),
        "cem": dict(
            phone="+905320000003",
            country="TR",
            name="Cem Ak",
            fields={"city": "", "age": 19},
            opted_out_at=now,
        ),
        "dan": dict(phone="+447400000004", country="GB", name="", fields={}),
    }
    contacts = {
        key: Contact.objects.create(workspace=workspace, **values) for key, values in people.items()
    }
    vip = ContactList.objects.create(workspace=workspace, name="VIP")
    for key in ("ann", "cem"):
        ListMember.objects.create(contact_list=vip, contact=contacts[key])
    other = Workspace.objects.create(name="Other", default_country="KZ")
    Contact.objects.create(workspace=other, phone="+77010000001", fields={"city": "Almaty"})
    return workspace, contacts, vip


def names(queryset) -> set[str]:
    return {c.phone[-1] for c in queryset}


def members(workspace, *rules, match="all") -> set[str]:
    return names(segments.members(workspace, {"match": match, "rules": list(rules)}))


def rule(field, op, value=None):
    return {"field": field, "op": op, "value": value}


# ann=1, bob=2, cem=3, dan=4


@pytest.mark.parametrize(
    ("a_rule", "expected"),
    [
        (rule("country", "is", "kz"), {"1", "2"}),
        (rule("country", "is_not", "KZ"), {"3", "4"}),
        (rule("name", "contains", "lee"), {"1"}),
        (rule("name", "is", "bob stone"), {"2"}),
        (rule("name", "empty"), {"4"}),
        (rule("name", "not_empty"), {"1", "2", "3"}),
        (rule("language", "is", "EN"), {"1"}),
        (rule("opted_out", "yes"), {"3"}),
        (rule("opted_out", "no"), {"1", "2", "4"}),
        (rule("sent", "within_days", "30"), {"1"}),
        (rule("sent", "not_within_days", "30"), {"2", "3", "4"}),
        (rule("sent", "never"), {"3", "4"}),
        (rule("delivered", "within_days", "7"), {"1"}),
        (rule("field:city", "is", "Almaty"), {"1"}),
        (rule("field:city", "is_not", "Almaty"), {"2"}),
        (rule("field:city", "contains", "ast"), {"2"}),
        (rule("field:city", "empty"), {"3", "4"}),
        (rule("field:city", "not_empty"), {"1", "2"}),
        (rule("field:age", "eq", "30"), {"1"}),
        (rule("field:age", "eq", "45,5"), {"2"}),
        (rule("field:age", "ne", "30"), {"2", "3"}),
        (rule("field:age", "gt", "20"), {"1", "2"}),
        (rule("field:age", "lte", "30"), {"1", "3"}),
        (rule("field:joined", "before", "2024-01-01"), {"2"}),
        (rule("field:joined", "after", "2024-01-01"), {"1"}),
        (rule("field:joined", "on", "2024-05-01"), {"1"}),
        (rule("field:tier", "is", "gold"), {"1"}),
        (rule("field:tier", "is_not", "gold"), {"2"}),
        (rule("field:tier", "empty"), {"3", "4"}),
    ],
)
def test_each_operator_picks_exactly_its_contacts(book, a_rule, expected):
    workspace, _, _ = book
    assert members(workspace, a_rule) == expected


def test_list_membership_and_its_negation(book):
    workspace, _, vip = book
    assert members(workspace, rule("list", "in", str(vip.pk))) == {"1", "3"}
    assert members(workspace, rule("list", "not_in", vip.pk)) == {"2", "4"}


def test_all_needs_every_rule_and_any_one_of_them(book):
    workspace, _, vip = book
    in_vip, in_kz = rule("list", "in", vip.pk), rule("country", "is", "KZ")
    assert members(workspace, in_vip, in_kz) == {"1"}
    assert members(workspace, in_vip, in_kz, match="any") == {"1", "2", "3"}


def test_no_rules_is_every_contact_of_the_workspace_only(book):
    workspace, _, _ = book
    assert members(workspace) == {"1", "2", "3", "4"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"match": "some"}, 'Match must be "all" or "any".'),
        ({"rules": "x"}, "The rules must be a list."),
        ({"rules": [rule("country", "is", "KZ"), "x"]}, "Rule 2 is not a condition."),
        ({"rules": [rule("shoe_size", "is", "9")]}, "Rule 1: choose a field."),
        ({"rules": [rule("field:age", "contains", "3")]}, "Rule 1: choose how to compare Age."),
        ({"rules": [rule("field:city", "is", "  ")]}, "Rule 1: enter a value for City."),
        ({"rules": [rule("field:age", "gt", "thirty")]}, "Rule 1: Age needs a number"),
        ({"rules": [rule("field:age", "gt", "NaN")]}, "Rule 1: Age needs a number"),
        ({"rules": [rule("field:joined", "on", "1/5/24")]}, "needs a date as YYYY-MM-DD"),
        ({"rules": [rule("sent", "within_days", "0")]}, "between 1 and 36500"),
        ({"rules": [rule("sent", "within_days", "٣")]}, "between 1 and 36500"),
        ({"rules": [rule("list", "in", "999999")]}, "choose one of the workspace's lists"),
        (
            {"rules": [rule("field:tier", "is", "bronze")]},
            "Rule 1: Tier: choose one of gold, silver.",
        ),
        ({"rules": [rule("country", "is", "Kazakhstan")]}, "Rule 1: Country: choose a country"),
        ({"rules": [rule("country", "is", "KZ")] * 51}, "at most 50 rules"),
    ],
)
def test_bad_conditions_say_which_rule_and_what_to_do(book, bad, message):
    workspace, _, _ = book
    with pytest.raises(segments.InvalidConditions) as error:
        segments.parse(bad, workspace)
    assert message in str(error.value)


def test_a_list_of_another_workspace_is_refused(book, db):
    workspace, _, _ = book
    foreign = ContactList.objects.create(
        workspace=Workspace.objects.create(name="Else"), name="Theirs"
    )
    with pytest.raises(segments.InvalidConditions, match="Rule 1"):
        segments.parse({"rules": [rule("list", "in", foreign.pk)]}, workspace)


def test_audience_unites_sources_minus_exclusions_and_opt_outs(book):
    workspace, contacts, vip = book
    kz = Segment.objects.create(
        workspace=workspace, name="KZ", conditions={"rules": [rule("country", "is", "KZ")]}
    )
    no_bob = ContactList.objects.create(workspace=workspace, name="No Bob")
    ListMember.objects.create(contact_list=no_bob, contact=contacts["bob"])
    reached = segments.audience(workspace, lists=[vip], segments=[kz], exclude_lists=[no_bob])
    # cem is in VIP but opted out; bob is in KZ but excluded; ann is in both, counted once.
    assert names(reached) == {"1"}
    assert reached.count() == 1


def test_a_segment_without_rules_in_an_audience_reaches_everyone_beside_a_list(book):
    """Combining with an empty Q() silently dropped the everyone-segment: only the list was
    reached."""
    workspace, _, vip = book
    everyone = Segment.objects.create(workspace=workspace, name="All", conditions={})
    reached = segments.audience(workspace, lists=[vip], segments=[everyone])
    assert names(reached) == {"1", "2", "4"}


def test_an_audience_without_sources_is_empty(book):
    workspace, _, _ = book
    assert not segments.audience(workspace).exists()
