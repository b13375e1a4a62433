"""The contact book: the stop list, contacts (upserted by number), lists and their members,
segments and their counts, and message templates.

Every change goes through the form the pages use (the contact form with its typed custom
fields, the list, segment-name and template forms) and segments' conditions through
``contacts.segments.parse``: the API refuses what the pages refuse, with the same words, each
error naming its field. Reading needs ``read``; changing needs ``send``; deleting and the stop
list need ``manage``.

Longer than 400 lines because its five resources (15 views) share the form helpers at the top
and are one brief's surface; a resource that grows should move to a module of its own.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import serializers_book as s
from api.keys import actor
from api.models import Scope
from api.problems import Problem
from api.serializers import paged
from api.views.base import ApiView
from api.views.campaigns import form_values, page_of
from campaigns.compose.message_templates import TemplateForm
from campaigns.models import Channel, MessageTemplate
from contacts import book, changes, search, segments
from contacts.forms import PREFIX, ContactForm, ListForm, SegmentNameForm
from contacts.models import Contact, ContactList, ListMember, OptOutSource, Segment
from contacts.pages.lists import drafts_drawing_on
from contacts.pages.segments import SEGMENT_COUNT_CAP
from core import params, phones

API = "API"  # where the audit log says a change was made


def _invalid(form) -> ValidationError:
    """The form's errors by field."""
    errors: dict = {}
    for name, messages in form.errors.items():
        field = "non_field_errors" if name == "__all__" else name
        errors.setdefault(field, []).extend(messages)
    return ValidationError(errors)


def _saved(form, request, also_changed: tuple[str, ...] = ()):
    """Saves a valid form with its audit event; raises ValidationError naming the fields
    otherwise, and on ``name`` when another request took the name in the meantime (the
    database's constraint decides)."""
    if not form.is_valid():
        raise _invalid(form)
    try:
        return changes.save(form, actor(request), API, also_changed=also_changed)
    except IntegrityError:
        raise ValidationError({"name": ["The workspace has one with this name already."]}) from None


def _bound(form_class, instance, given: dict, workspace):
    """The form bound to the instance's current values with ``given`` over them, so a PATCH
    changes only what it names."""
    data = form_values(form_class(instance=instance, workspace=workspace))
    data.update({name: "" if value is None else value for name, value in given.items()})
    return form_class(data, instance=instance, workspace=workspace)


def _through_form(request, instance, form_class, given_class, shown_class) -> Response:
    """Creates (201) or changes (200, only the fields given) ``instance`` through the page's
    form: ``given_class`` reads the body, ``shown_class`` answers."""
    creating = instance.pk is None
    given = given_class(data=request.data, partial=not creating)
    given.is_valid(raise_exception=True)
    form = _bound(form_class, instance, given.validated_data, request.workspace)
    saved = _saved(form, request)
    return Response(
        shown_class(saved).data,
        status=status.HTTP_201_CREATED if creating else status.HTTP_200_OK,
    )


def _e164(workspace, text: str, field: str = "phone") -> str:
    found = phones.normalise(text, workspace.default_country)
    if not isinstance(found, phones.Normalised):
        raise ValidationError(
            {field: [f"{found.reason} Type the whole number, for example +7 701 123 45 67."]}
        )
    return found.e164


# The stop list


def _stop_list(request):
    return Contact.objects.filter(workspace=request.workspace, opted_out_at__isnull=False)


class StopList(ApiView):
    write_scope = Scope.MANAGE

    @extend_schema(responses=paged(s.StopListEntrySerializer), operation_id="stop_list_list")
    def get(self, request):
        """The opted-out numbers, which never receive a message, in the order their contacts
        joined the book (id order)."""
        return page_of(self, request, _stop_list(request), s.StopListEntrySerializer)

    @extend_schema(
        request=s.StopListAddSerializer,
        responses={201: s.StopListEntrySerializer, 200: s.StopListEntrySerializer},
    )
    def post(self, request):
        """Opts a number out (201), creating its contact if the book lacks it; a number out
        already keeps its date, source and note (200)."""
        given = s.StopListAddSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        e164 = _e164(request.workspace, given.validated_data["phone"])
        added = book.opt_out(
            request.workspace,
            [e164],
            actor=actor(request),
            where=API,
            source=OptOutSource.API,
            note=given.validated_data["note"],
        )
        entry = _stop_list(request).get(phone=e164)
        return Response(
            s.StopListEntrySerializer(entry).data,
            status=status.HTTP_201_CREATED if added else status.HTTP_200_OK,
        )


class StopListRemove(ApiView):
    write_scope = Scope.MANAGE

    @extend_schema(request=s.StopListRemoveSerializer, responses={204: None})
    def post(self, request):
        """Opts a number back in: it may receive messages again (404 if it is not listed)."""
        given = s.StopListRemoveSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        e164 = _e164(request.workspace, given.validated_data["phone"])
        entry = _stop_list(request).filter(phone=e164).first()
        if entry is None:
            raise Problem("not-found", f"{e164} is not on the stop list.")
        book.opt_in(entry, actor=actor(request), where=API)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Contacts


def _with_lists(contacts):
    return contacts.prefetch_related(
        Prefetch("lists", queryset=ContactList.objects.order_by("pk").only("pk"))
    )


def contact_of(request, pk: int) -> Contact:
    return get_object_or_404(_with_lists(Contact.objects), workspace=request.workspace, pk=pk)


def _filtered(request):
    """The contacts the query's filters leave, through the contacts page's own search."""
    query = s.ContactFilterSerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    f = query.validated_data
    workspace = request.workspace
    if "list" in f and not workspace.contact_lists.filter(pk=f["list"]).exists():
        raise ValidationError({"list": ["No list with this id in your workspace."]})
    if "segment" in f and not workspace.segments.filter(pk=f["segment"]).exists():
        raise ValidationError({"segment": ["No segment with this id in your workspace."]})
    chosen = search.ContactFilter(
        search=params.text(f.get("search", "")),
        list_pk=f.get("list"),
        segment_pk=f.get("segment"),
        opted={True: "out", False: "in"}.get(f["opted_out"], ""),
    )
    contacts = chosen.apply(workspace)
    if chosen.errors:  # only a segment whose stored conditions no longer hold
        raise ValidationError({"segment": chosen.errors})
    return _with_lists(contacts)


def _save_contact(request, contact: Contact, given: dict) -> Contact:
    """Runs the contact form over the contact's values with ``given`` over them; its custom
    fields come as ``fields`` (a key the workspace lacks is refused)."""
    workspace = request.workspace
    form = ContactForm(instance=contact, workspace=workspace)
    values = dict(given.get("fields") or {})
    keys = {field.key for field in form.custom}
    unknown = [key for key in values if key not in keys]
    if unknown:
        raise ValidationError(
            {"fields": {key: ["No such field in this workspace."] for key in unknown}}
        )
    data = form_values(form)
    data.update({n: given[n] for n in ("phone", "name", "language", "time_zone") if n in given})
    data.update({PREFIX + key: "" if v is None else v for key, v in values.items()})
    form = ContactForm(data, instance=contact, workspace=workspace)
    if not form.is_valid():
        errors = _invalid(form).detail
        custom = {
            k.removeprefix(PREFIX): errors.pop(k) for k in list(errors) if k.startswith(PREFIX)
        }
        raise ValidationError({**errors, **({"fields": custom} if custom else {})})
    try:
        return changes.save(form, actor(request), API)
    except IntegrityError:
        raise ValidationError(
            {"phone": ["Another request added this number just now; send again to change it."]}
        ) from None


class ContactIndex(ApiView):
    @extend_schema(
        parameters=[s.ContactFilterSerializer],
        responses=paged(s.ContactSerializer),
        operation_id="contacts_list",
    )
    def get(self, request):
        """The workspace's contacts in id order, a page at a time (follow ``next``)."""
        return page_of(self, request, _filtered(request), s.ContactSerializer)

    @extend_schema(
        request=s.ContactInputSerializer,
        responses={201: s.ContactSerializer, 200: s.ContactSerializer},
    )
    def post(self, request):
        """Creates the contact with this number (201), or changes the one the book holds
        (200): only the values given; custom fields left out keep theirs."""
        given = s.ContactInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        found = phones.normalise(given.validated_data["phone"], request.workspace.default_country)
        existing = None
        if isinstance(found, phones.Normalised):
            existing = Contact.objects.filter(workspace=request.workspace, phone=found.e164).first()
        contact = _save_contact(
            request, existing or Contact(workspace=request.workspace), given.validated_data
        )
        return Response(
            s.ContactSerializer(contact_of(request, contact.pk)).data,
            status=status.HTTP_200_OK if existing else status.HTTP_201_CREATED,
        )


class ContactDetail(ApiView):
    scopes = {"DELETE": Scope.MANAGE}

    @extend_schema(responses=s.ContactSerializer)
    def get(self, request, contact_pk: int):
        return Response(s.ContactSerializer(contact_of(request, contact_pk)).data)

    @extend_schema(request=s.ContactChangeSerializer, responses=s.ContactSerializer)
    def patch(self, request, contact_pk: int):
        """Changes only the values given. The number cannot change: a contact is its number."""
        contact = contact_of(request, contact_pk)
        given = s.ContactChangeSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        changed = dict(given.validated_data)
        phone = changed.pop("phone", None)
        if phone is not None and _e164(request.workspace, phone) != contact.phone:
            raise ValidationError(
                {"phone": ["A contact is its number: it cannot change. Create a new contact."]}
            )
        _save_contact(request, contact, changed)
        return Response(s.ContactSerializer(contact_of(request, contact_pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, contact_pk: int):
        """Deletes the contact and its place in lists; its messages stay in their campaigns
        (erasing the number from them is the contact page's erase). 409 for an opted-out
        contact: deleting would forget the opt-out, and the next file holding the number would
        message them; remove it from the stop list first if that is really meant."""
        contact = contact_of(request, contact_pk)
        if contact.opted_out:
            raise Problem(
                "wrong-state",
                "This contact opted out: deleting it would forget the opt-out, and a later "
                "file or call holding the number would message them. Remove the number from "
                "the stop list first (POST /api/v1/stop-list/remove) if that is what you mean.",
            )
        changes.delete(contact, actor(request), API)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Lists and their members


def list_of(request, pk: int) -> ContactList:
    return get_object_or_404(ContactList, workspace=request.workspace, pk=pk)


class ListIndex(ApiView):
    @extend_schema(responses=paged(s.ContactListSerializer), operation_id="lists_list")
    def get(self, request):
        lists = ContactList.objects.filter(workspace=request.workspace)
        return page_of(self, request, lists, s.ContactListSerializer)

    @extend_schema(request=s.ContactListInputSerializer, responses={201: s.ContactListSerializer})
    def post(self, request):
        return _through_form(
            request, ContactList(), ListForm, s.ContactListInputSerializer, s.ContactListSerializer
        )


class ListDetail(ApiView):
    scopes = {"DELETE": Scope.MANAGE}

    @extend_schema(responses=s.ContactListSerializer)
    def get(self, request, list_pk: int):
        return Response(s.ContactListSerializer(list_of(request, list_pk)).data)

    @extend_schema(request=s.ContactListInputSerializer, responses=s.ContactListSerializer)
    def patch(self, request, list_pk: int):
        """Renames the list."""
        contact_list = list_of(request, list_pk)
        return _through_form(
            request, contact_list, ListForm, s.ContactListInputSerializer, s.ContactListSerializer
        )

    @extend_schema(responses={204: None})
    def delete(self, request, list_pk: int):
        """Deletes the list (its contacts stay in the book); 409 while a draft campaign's
        audience names it."""
        contact_list = list_of(request, list_pk)
        in_use = drafts_drawing_on(contact_list, "audience_of", "excluded_from")
        if in_use:
            raise Problem("wrong-state", in_use)
        changes.delete(contact_list, actor(request), API)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _members(request) -> list[int]:
    """The contact ids of the request, each once; every one must be the workspace's."""
    given = s.MembersSerializer(data=request.data)
    given.is_valid(raise_exception=True)
    ids = list(dict.fromkeys(given.validated_data["contacts"]))
    known = set(
        Contact.objects.filter(workspace=request.workspace, pk__in=ids).values_list("pk", flat=True)
    )
    missing = [pk for pk in ids if pk not in known]
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise ValidationError(
            {"contacts": [f"No contact with id {shown}{more} in your workspace; nothing changed."]}
        )
    return ids


def _members_result(contact_list: ContactList, changed: int) -> Response:
    return Response(s.MembersResultSerializer({"list": contact_list, "changed": changed}).data)


class ListMembersAdd(ApiView):
    @extend_schema(request=s.MembersSerializer, responses=s.MembersResultSerializer)
    def post(self, request, list_pk: int):
        """Adds contacts to the list; those in it already stay as they are."""
        contact_list = list_of(request, list_pk)
        ids = _members(request)
        held = set(
            ListMember.objects.filter(contact_list=contact_list, contact_id__in=ids).values_list(
                "contact_id", flat=True
            )
        )
        new = [ListMember(contact_list=contact_list, contact_id=pk) for pk in ids if pk not in held]
        with transaction.atomic():
            ListMember.objects.bulk_create(new, ignore_conflicts=True, batch_size=1_000)
            changes.members_changed(contact_list, actor(request), len(new), API, added=True)
        return _members_result(contact_list, len(new))


class ListMembersRemove(ApiView):
    @extend_schema(request=s.MembersSerializer, responses=s.MembersResultSerializer)
    def post(self, request, list_pk: int):
        """Takes contacts out of the list; they stay in the book."""
        contact_list = list_of(request, list_pk)
        ids = _members(request)
        with transaction.atomic():
            removed, _ = ListMember.objects.filter(
                contact_list=contact_list, contact_id__in=ids
            ).delete()
            changes.members_changed(contact_list, actor(request), removed, API, added=False)
        return _members_result(contact_list, removed)


# Segments


def segment_of(request, pk: int) -> Segment:
    return get_object_or_404(Segment, workspace=request.workspace, pk=pk)


def _conditions(raw: dict, workspace) -> dict:
    """The conditions checked as the segment editor checks them, stored as it stores them:
    each value as the text given; InvalidConditions ("Rule 2: …") refuses ``conditions``."""
    try:
        checked = segments.parse(raw, workspace)
    except segments.InvalidConditions as exc:
        raise ValidationError({"conditions": [str(exc)]}) from None
    rules = [
        {
            "field": r.field,
            "op": r.op,
            "value": "" if r.value is None else str(given["value"]).strip(),
        }
        for r, given in zip(checked.rules, raw.get("rules") or [], strict=True)
    ]
    return {"match": checked.match, "rules": rules}


def _save_segment(request, segment: Segment, given: dict) -> Segment:
    workspace = request.workspace
    form = _bound(SegmentNameForm, segment, {"name": given.get("name", segment.name)}, workspace)
    stored = segment.conditions
    errors = {}
    if "conditions" in given:
        try:
            segment.conditions = _conditions(given["conditions"], workspace)
        except ValidationError as exc:
            errors = exc.detail
    if not form.is_valid():
        errors = {**_invalid(form).detail, **errors}
    if errors:
        raise ValidationError(errors)
    also = ("conditions",) if segment.pk and segment.conditions != stored else ()
    return _saved(form, request, also)


class SegmentIndex(ApiView):
    @extend_schema(responses=paged(s.SegmentSerializer), operation_id="segments_list")
    def get(self, request):
        found = Segment.objects.filter(workspace=request.workspace)
        return page_of(self, request, found, s.SegmentSerializer)

    @extend_schema(request=s.SegmentInputSerializer, responses={201: s.SegmentSerializer})
    def post(self, request):
        """A new segment; no conditions match every contact."""
        given = s.SegmentInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        segment = Segment(workspace=request.workspace, conditions={"match": "all", "rules": []})
        created = _save_segment(request, segment, given.validated_data)
        return Response(s.SegmentSerializer(created).data, status=status.HTTP_201_CREATED)


class SegmentDetail(ApiView):
    scopes = {"DELETE": Scope.MANAGE}

    @extend_schema(responses=s.SegmentSerializer)
    def get(self, request, segment_pk: int):
        return Response(s.SegmentSerializer(segment_of(request, segment_pk)).data)

    @extend_schema(request=s.SegmentInputSerializer, responses=s.SegmentSerializer)
    def patch(self, request, segment_pk: int):
        """Renames the segment or replaces its conditions (the whole set)."""
        segment = segment_of(request, segment_pk)
        given = s.SegmentInputSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        saved = _save_segment(request, segment, given.validated_data)
        return Response(s.SegmentSerializer(saved).data)

    @extend_schema(responses={204: None})
    def delete(self, request, segment_pk: int):
        """Deletes the segment (no contact changes); 409 while a draft campaign draws on it."""
        segment = segment_of(request, segment_pk)
        in_use = drafts_drawing_on(segment, "audience_of")
        if in_use:
            raise Problem("wrong-state", in_use)
        changes.delete(segment, actor(request), API)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentCount(ApiView):
    @extend_schema(responses=s.SegmentCountSerializer)
    def get(self, request, segment_pk: int):
        """How many contacts match the segment now, counted up to a million (``more`` says
        there are more)."""
        segment = segment_of(request, segment_pk)
        try:
            members = segments.members(request.workspace, segment.conditions)
        except segments.InvalidConditions as exc:
            return Response({"count": None, "more": False, "invalid": str(exc)})
        count, more = search.capped_count(members, SEGMENT_COUNT_CAP)
        return Response({"count": count, "more": more, "invalid": ""})


# Message templates


TEMPLATE_SHAPES = (s.MessageTemplateInputSerializer, s.MessageTemplateSerializer)


def template_of(request, pk: int) -> MessageTemplate:
    return get_object_or_404(MessageTemplate, workspace=request.workspace, pk=pk)


class TemplateIndex(ApiView):
    @extend_schema(
        parameters=[OpenApiParameter("channel", str, enum=Channel.values)],
        responses=paged(s.MessageTemplateSerializer),
        operation_id="templates_list",
    )
    def get(self, request):
        templates = MessageTemplate.objects.filter(workspace=request.workspace)
        channel = request.query_params.get("channel")
        if channel is not None:
            if channel not in Channel.values:
                raise ValidationError({"channel": [f"Choose one of {', '.join(Channel.values)}."]})
            templates = templates.filter(channel=channel)
        return page_of(self, request, templates, s.MessageTemplateSerializer)

    @extend_schema(
        request=s.MessageTemplateInputSerializer, responses={201: s.MessageTemplateSerializer}
    )
    def post(self, request):
        template = MessageTemplate(created_by=actor(request), channel=Channel.SMS)
        return _through_form(request, template, TemplateForm, *TEMPLATE_SHAPES)


class TemplateDetail(ApiView):
    scopes = {"DELETE": Scope.MANAGE}

    @extend_schema(responses=s.MessageTemplateSerializer)
    def get(self, request, template_pk: int):
        return Response(s.MessageTemplateSerializer(template_of(request, template_pk)).data)

    @extend_schema(request=s.MessageTemplateInputSerializer, responses=s.MessageTemplateSerializer)
    def patch(self, request, template_pk: int):
        """Changes the name, channel or text; campaigns that chose it keep their copy."""
        template = template_of(request, template_pk)
        return _through_form(request, template, TemplateForm, *TEMPLATE_SHAPES)

    @extend_schema(responses={204: None})
    def delete(self, request, template_pk: int):
        """Deletes the template; no campaign changes."""
        changes.delete(template_of(request, template_pk), actor(request), API)
        return Response(status=status.HTTP_204_NO_CONTENT)
