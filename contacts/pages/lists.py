"""The lists page: every list with its member count; create, rename (sender and above) and
delete (admin and above). A list's members are the contacts page filtered by it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST

from contacts import changes, search
from contacts.forms import ListForm
from contacts.models import ContactList, ListMember
from core.statuses import CampaignStatus
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

LIST_COUNT_CAP = 10_000


def member_count(contact_list) -> str:
    """The list's size: exact up to LIST_COUNT_CAP (an index-only scan that stops there),
    beyond it PostgreSQL's estimate ("≈ 500,000"), never a count of every membership."""
    members = ListMember.objects.filter(contact_list=contact_list)
    count, more = search.capped_count(members, LIST_COUNT_CAP)
    if not more:
        return intcomma(count)
    guess = search.estimated(members) or 0
    return f"≈ {intcomma(guess)}" if guess > count else f"{intcomma(count)}+"


def drafts_drawing_on(item, *relations: str) -> str:
    """Why ``item`` (a list or a segment) cannot be deleted: the draft campaigns whose
    audience names it through the campaigns' reverse ``relations``, which deleting it would
    change unseen; "" when none does. A launched campaign's recipients are fixed already."""
    names: set[str] = set()
    for relation in relations:
        drafts = getattr(item, relation).filter(status=CampaignStatus.DRAFT)
        names.update(drafts.values_list("name", flat=True))
    if not names:
        return ""
    shown = ", ".join(sorted(names)[:5]) + (" and more" if len(names) > 5 else "")
    return (
        f"The draft{pluralize(len(names))} {shown} draw{pluralize(len(names), 's,')} on "
        f"{item}: take it out of {pluralize(len(names), 'that campaign,those campaigns')} first."
    )


@role_required(Role.VIEWER)
def list_index(request):
    form = ListForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST":
        require_role(request, Role.SENDER)
        if form.is_valid():
            created = changes.save(form, request.user, "page")
            messages.success(request, f"Created the list {created}.")
            return done(request, "list_index")
    lists = list(ContactList.objects.filter(workspace=request.workspace))
    for contact_list in lists:
        contact_list.members = member_count(contact_list)
    template = "contacts/list_index.html" + ("#form" if request.htmx and request.POST else "")
    context = {
        "form": form,
        "lists": lists,
        "can_send": request.membership.can(Role.SENDER),
    }
    return render(request, template, context)


def list_rename(request, list_pk: int):
    contact_list = get_for_workspace(request, ContactList, pk=list_pk)
    require_role(request, Role.SENDER)
    name = contact_list.name
    form = ListForm(request.POST or None, instance=contact_list, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        changes.save(form, request.user, "page")
        messages.success(request, f"Renamed {name} to {contact_list.name}.")
        return done(request, "list_index")
    template = "contacts/list_rename.html" + ("#form" if request.htmx else "")
    return render(request, template, {"form": form, "contact_list": contact_list, "name": name})


@require_POST
def list_delete(request, list_pk: int):
    contact_list = get_for_workspace(request, ContactList, pk=list_pk)
    require_role(request, Role.ADMIN)
    in_use = drafts_drawing_on(contact_list, "audience_of", "excluded_from")
    if in_use:
        messages.error(request, in_use)
        return done(request, "list_index")
    changes.delete(contact_list, request.user, "page")
    messages.success(request, f"Deleted the list {contact_list}; its contacts stay in the book.")
    return done(request, "list_index")
