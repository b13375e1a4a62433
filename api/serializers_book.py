"""The shapes of the contact book's API: the stop list, contacts, lists, segments and message
templates. The rules stay where the pages keep them (the book's forms, contacts.segments,
the template form): these only say what a request may carry and what an answer holds."""

from __future__ import annotations

import math
import re

from rest_framework import serializers

from api.serializers import id_field
from campaigns.models import Channel, MessageTemplate
from contacts.models import Contact, ContactList, OptOutSource, Segment

MAX_MEMBERS = 10_000  # contact ids per call to a list's members
_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class StopListEntrySerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="pk", help_text="The opted-out contact's id.")
    source = serializers.ChoiceField(
        source="opt_out_source",
        choices=OptOutSource.choices,
        allow_blank=True,  # opted out before the source was recorded
    )
    note = serializers.CharField(source="opt_out_note")

    class Meta:
        model = Contact
        fields = ["contact", "phone", "opted_out_at", "source", "note"]
        read_only_fields = fields


class StopListAddSerializer(serializers.Serializer):
    phone = serializers.CharField(
        max_length=64,
        help_text="Any format; a national number is read as one of the "
        "workspace's default country.",
    )
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class StopListRemoveSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=64)


class ContactSerializer(serializers.ModelSerializer):
    opt_out_source = serializers.ChoiceField(choices=OptOutSource.choices, allow_blank=True)
    lists = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The ids of the lists the contact is in."
    )
    fields = serializers.DictField(
        help_text='Custom fields by key, typed: {"city": "Almaty", "age": 42}.'
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "country",
            "name",
            "language",
            "time_zone",
            "fields",
            "opted_out_at",
            "opt_out_source",
            "lists",
            "created_at",
            "updated_at",
            "last_sent_at",
            "last_delivered_at",
        ]
        read_only_fields = fields


class ContactInputSerializer(serializers.Serializer):
    """A contact's own values; checked further by the contact form the pages use."""

    phone = serializers.CharField(
        max_length=40,
        help_text="Any format; the contact with this number is changed, or a new one created.",
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    language = serializers.CharField(max_length=10, required=False, allow_blank=True)
    time_zone = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="An IANA name; empty: derived."
    )
    fields = serializers.DictField(
        required=False,
        help_text="Custom fields by key: a string, a number, or a date as YYYY-MM-DD; null or "
        '"" clears one. Keys left out keep their values.',
    )

    def validate_fields(self, values: dict) -> dict:
        wrong = [
            key
            for key, value in values.items()
            if value is not None
            and (
                isinstance(value, bool)
                or not isinstance(value, str | int | float)
                or (isinstance(value, float) and not math.isfinite(value))
            )
        ]
        if wrong:
            raise serializers.ValidationError(
                {key: ["Give a string, a number or null."] for key in wrong}
            )
        # A lone surrogate is valid JSON but no text a database stores (review r23); the API's
        # own CharFields refuse it the same way.
        odd = [k for k, v in values.items() if isinstance(v, str) and _SURROGATE.search(v)]
        if odd:
            raise serializers.ValidationError(
                {key: ["Surrogate characters are not allowed."] for key in odd}
            )
        # The contact form reads text, as a page posts it: a date given as a number is then
        # refused by the date field's own words, not a 500.
        return {k: str(v) if isinstance(v, int | float) else v for k, v in values.items()}


class ContactChangeSerializer(ContactInputSerializer):
    phone = serializers.CharField(
        max_length=40, required=False, help_text="A contact is its number: it cannot change."
    )


class ContactFilterSerializer(serializers.Serializer):
    list = id_field(required=False, help_text="A list's id.")
    segment = id_field(required=False, help_text="A segment's id.")
    opted_out = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="A number in any format (or its start), or part of a name.",
    )


class ContactListSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactList
        fields = ["id", "name", "created_at"]
        read_only_fields = fields


class ContactListInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class MembersSerializer(serializers.Serializer):
    contacts = serializers.ListField(
        child=id_field(),
        min_length=1,
        max_length=MAX_MEMBERS,
        help_text=f"Contact ids of the workspace, up to {MAX_MEMBERS:,}.",
    )


class MembersResultSerializer(serializers.Serializer):
    list = ContactListSerializer()
    changed = serializers.IntegerField(
        help_text="How many were added (not in the list before) or removed (in it before)."
    )


class SegmentSerializer(serializers.ModelSerializer):
    conditions = serializers.DictField(
        help_text='{"match": "all" | "any", "rules": [{"field", "op", "value"}, ...]}'
    )

    class Meta:
        model = Segment
        fields = ["id", "name", "conditions", "created_at", "updated_at"]
        read_only_fields = fields


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    conditions = serializers.DictField(
        required=False,
        help_text='{"match": "all" | "any", "rules": [{"field": "field:city", "op": "is", '
        '"value": "Almaty"}]}; fields: country, name, language, list, opted_out, sent, '
        "delivered, or field:<key>.",
    )

    def validate_conditions(self, conditions: dict) -> dict:
        if _holds_nul(conditions):  # PostgreSQL's jsonb cannot store one
            raise serializers.ValidationError("Null characters are not allowed.")
        return conditions


class SegmentCountSerializer(serializers.Serializer):
    count = serializers.IntegerField(allow_null=True, help_text="null when ``invalid`` says why.")
    more = serializers.BooleanField(help_text="True when there are more than ``count``.")
    invalid = serializers.CharField(
        allow_blank=True, help_text="Why the stored conditions cannot be counted now."
    )


class MessageTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "name",
            "channel",
            "text",
            "usage_count",
            "last_used_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MessageTemplateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    text = serializers.CharField(max_length=10_000)
