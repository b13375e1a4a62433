"""A contact's page: who they are, their lists and opt-out state, every message the workspace's
campaigns sent them; opting out and in, list membership, the JSON export and the erasure.

It lives in campaigns, not in contacts, because it reads messages (contacts is the lower room).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST, require_safe

from campaigns import contact_history
from contacts import book, changes
from contacts.models import Contact, ContactField, ContactList, ListMember, OptOutSource
from core import params
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

PER_PAGE = 25


@require_safe
@role_required(Role.VIEWER)
def contact_detail(request, contact_pk: int):
    contact = get_for_workspace(request, Contact, pk=contact_pk)
    page = Paginator(contact_history.messages_to(contact), PER_PAGE).get_page(
        params.whole_number(request.GET.get("page"))
    )
    history = list(page.object_list)
    priced = contact_history.prices(history)
    lists = contact.memberships.select_related("contact_list").order_by("contact_list__name")
    context = {
        "contact": contact,
        "fields": _fields(contact),
        "memberships": lists,
        "other_lists": ContactList.objects.filter(workspace=request.workspace).exclude(
            memberships__contact=contact
        ),
        "page": page,
        "history": [(m, priced[m.pk]) for m in history],
        "edit_url": _edit_url(contact),
    }
    template = "campaigns/contact_detail.html" + ("#history" if request.htmx else "")
    return render(request, template, context)


def _fields(contact: Contact) -> list[tuple[str, object]]:
    """(label, value) of every field the contact has a value for, in the workspace's order."""
    labels = ContactField.objects.filter(workspace_id=contact.workspace_id)
    shown = [(f.label, contact.fields[f.key]) for f in labels if f.key in contact.fields]
    known = {f.key for f in labels}
    return shown + [(key, value) for key, value in contact.fields.items() if key not in known]


def _edit_url(contact: Contact) -> str:
    """The contact book's edit page, where the contacts app has one."""
    try:
        return reverse("contact_edit", kwargs={"contact_pk": contact.pk})
    except NoReverseMatch:
        return ""


@require_POST
def contact_opt_out(request, contact_pk: int):
    contact = get_for_workspace(request, Contact, pk=contact_pk)
    require_role(request, Role.SENDER)
    note = params.text(request.POST.get("note", ""), max_length=255)
    if book.opt_out(
        request.workspace,
        [contact.phone],
        actor=request.user,
        where="page",
        source=OptOutSource.MANUAL,
        note=note,
    ):
        messages.success(request, f"{contact.phone} is opted out: nothing more is sent to it.")
    else:
        messages.info(request, f"{contact.phone} was opted out already.")
    return done(request, "contact_detail", contact.pk)


@require_POST
def contact_opt_in(request, contact_pk: int):
    contact = get_for_workspace(request, Contact, pk=contact_pk)
    require_role(request, Role.SENDER)
    book.opt_in(contact, actor=request.user, where="page")
    messages.success(request, f"{contact.phone} may receive messages again.")
    return done(request, "contact_detail", contact.pk)


@require_POST
def contact_lists(request, contact_pk: int):
    """Adds the contact to the list in ``add`` or removes them from the one in ``remove``."""
    contact = get_for_workspace(request, Contact, pk=contact_pk)
    require_role(request, Role.SENDER)
    adding = "add" in request.POST
    list_pk = params.whole_number(request.POST.get("add" if adding else "remove"))
    if list_pk is None:
        messages.error(request, "Choose a list first.")
        return done(request, "contact_detail", contact.pk)
    chosen = get_for_workspace(request, ContactList, pk=list_pk)
    with transaction.atomic():
        if adding:
            _, changed = ListMember.objects.get_or_create(contact_list=chosen, contact=contact)
        else:
            changed = ListMember.objects.filter(contact_list=chosen, contact=contact).delete()[0]
        changes.members_changed(
            chosen, request.user, int(changed), "contact page", added=adding, contact_id=contact.pk
        )
    if adding:
        messages.success(request, f"Added to “{chosen.name}”.")
    else:
        messages.success(request, f"Removed from “{chosen.name}”.")
    return done(request, "contact_detail", contact.pk)


@require_safe
@role_required(Role.VIEWER)
def contact_export(request, contact_pk: int):
    """A JSON file of everything the workspace holds about the contact; for admins."""
    contact = get_for_workspace(request, Contact, pk=contact_pk)
    require_role(request, Role.ADMIN)
    data = contact_history.export(contact, request.user)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    digits = params.ascii_digits(contact.phone)
    response["Content-Disposition"] = content_disposition_header(
        True, f"contact-{digits or contact.pk}.json"
    )
    return response


@role_required(Role.VIEWER)
def contact_erase(request, contact_pk: int):
    """GET: what erasing does, to confirm; POST: erase. For admins."""
    contact = get_for_workspace(request, Contact, pk=contact_pk)
    require_role(request, Role.ADMIN)
    if request.method == "POST":
        try:
            erasure = contact_history.erase(contact, request.user)
        except contact_history.EraseRefused as refused:
            messages.error(request, str(refused))
            return done(request, "contact_erase", contact.pk)
        text = (
            f"The contact was erased: {erasure.messages:,} past messages now show "
            f"{erasure.stand_in}."
        )
        if erasure.cancelled:
            text += f" {erasure.cancelled:,} messages not yet sent were cancelled."
        if erasure.kept_opt_out:
            text += (
                f" {contact.phone} stays on the stop list (the number and the date of the "
                "opt-out, nothing else), so it is never sent to again."
            )
        messages.success(request, text)
        return _after_erase(request)
    context = {
        "contact": contact,
        "messages_count": contact_history.messages_to(contact).count(),
        "still_to_send": contact_history.campaigns_still_to_send(contact),
        "stand_in": contact_history.erased_phone(contact.phone),
    }
    return render(request, "campaigns/contact_erase.html", context)


def _after_erase(request):
    """The contacts list where the contact book has one, else the campaigns."""
    try:
        return done(request, "contact_list")
    except NoReverseMatch:
        return done(request, "campaign_list")
