"""The contacts page (search, filters, sort, pages, bulk actions) and a contact's form."""

from __future__ import annotations

from functools import lru_cache

from django.contrib import messages
from django.db import connection, transaction
from django.db.models import F
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from contacts import book, changes, search
from contacts.forms import ContactForm
from contacts.models import Contact, ContactField, ContactList, ListMember, OptOutSource, Segment
from core import choices, params
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

BULK_LIMIT = 1_000_000  # "all matching" reaches at most this many contacts at once


@require_safe
@role_required(Role.VIEWER)
def contact_list(request):
    """Everything in the query string, so a filtered page is a link to share; HTMX requests
    get the results part alone."""
    chosen = search.ContactFilter.from_query(request.GET)
    contacts = chosen.apply(request.workspace)
    page = search.page_of(contacts, chosen.page)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "chosen": chosen,
        "page": page,
        "rows": _rows(page.contacts),
        "country_options": _country_options(chosen.country),
        "page_query": query.urlencode(),
        "sort_columns": _sort_columns(request, chosen),
        "lists": ContactList.objects.filter(workspace=request.workspace).values_list("pk", "name"),
        "segments": Segment.objects.filter(workspace=request.workspace).values_list("pk", "name"),
        "fields": ContactField.objects.filter(workspace=request.workspace).values_list(
            "key", "label"
        ),
        "can_send": request.membership.can(Role.SENDER),
    }
    for message in chosen.errors:
        messages.warning(request, message)
    template = "contacts/contact_list.html" + ("#results" if request.htmx else "")
    return render(request, template, context)


def _rows(contacts) -> list[dict]:
    """The table's cells as ready strings: a 50-row page renders several times faster from
    them than through template tags and filters."""
    # The contact's page lives with the messages it lists (campaigns.pages.contact).
    link = reverse("contact_detail", args=[2**31 - 1]).replace(str(2**31 - 1), "{}")
    zone = timezone.get_current_timezone()
    day = "%Y-%m-%d"
    return [
        {
            "pk": c.pk,
            "phone": c.phone,
            "url": link.format(c.pk),
            "name": c.name,
            "country": c.country,
            "opted_out": c.opted_out_at.astimezone(zone).strftime(day) if c.opted_out_at else "",
            "source": c.get_opt_out_source_display(),
            "added": c.created_at.astimezone(zone).strftime(day),
            "updated": c.updated_at.astimezone(zone).strftime(f"{day} %H:%M"),
        }
        for c in contacts
    ]


@lru_cache(maxsize=1)
def _all_country_options() -> str:
    return format_html_join(
        "", '<option value="{}">{}</option>', ((code, name) for code, name in choices.countries())
    )


def _country_options(chosen: str) -> str:
    """The country filter's ~250 options, built once; the chosen one marked."""
    options = _all_country_options()
    if chosen:
        options = options.replace(f'value="{chosen}">', f'value="{chosen}" selected>', 1)
    return mark_safe(options)  # format_html_join escaped them; chosen is letters only


def _sort_columns(request, chosen: search.ContactFilter) -> dict[str, dict]:
    columns = {}
    for key, label in search.SORT_LABELS.items():
        query = request.GET.copy()
        query.pop("page", None)
        query["sort"] = key if chosen.sort != key or chosen.descending else f"-{key}"
        arrow = ""
        if chosen.sort == key:
            arrow = "bi-arrow-down" if chosen.descending else "bi-arrow-up"
        columns[key] = {"label": label, "url": f"?{query.urlencode()}", "arrow": arrow}
    return columns


@role_required(Role.SENDER)
def contact_create(request):
    form = ContactForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        contact = changes.save(form, request.user, "page")
        messages.success(request, f"Added {contact.phone}.")
        return done(request, "contact_detail", contact.pk)
    template = "contacts/contact_form.html" + ("#form" if request.htmx else "")
    return render(request, template, {"form": form})


def contact_edit(request, contact_pk: int):
    contact = get_for_workspace(request, Contact, pk=contact_pk)
    require_role(request, Role.VIEWER)
    form = ContactForm(request.POST or None, instance=contact, workspace=request.workspace)
    if request.method == "POST":
        require_role(request, Role.SENDER)
        if form.is_valid():
            changes.save(form, request.user, "page")
            messages.success(request, f"Saved {contact.phone}.")
            return done(request, "contact_detail", contact.pk)
    template = "contacts/contact_form.html" + ("#form" if request.htmx else "")
    context = {
        "form": form,
        "contact": contact,
        "lists": contact.lists.order_by("name"),
        "can_send": request.membership.can(Role.SENDER),
    }
    return render(request, template, context)


@require_POST
def contact_bulk(request):
    """Adds the chosen contacts to a list, removes them from one, or opts them out. The chosen
    are the ticked rows, or with ``scope=all`` every contact the page's filter matches."""
    require_role(request, Role.SENDER)
    action = request.POST.get("action", "")
    target = None
    if action in ("add", "remove"):
        target = ContactList.objects.filter(
            workspace=request.workspace, pk=params.whole_number(request.POST.get("target"))
        ).first()
        if target is None:
            messages.error(request, "Choose the list to add the contacts to or remove them from.")
            return _back(request)
    elif action != "opt_out":
        messages.error(request, "Choose what to do with the contacts.")
        return _back(request)
    chosen, problems = _chosen(request)
    if problems:
        messages.error(request, " ".join(problems) + " Nothing was changed.")
        return _back(request)
    if chosen is None:
        messages.error(request, "Tick the contacts to change, or choose all that match.")
        return _back(request)
    with transaction.atomic():
        changed = _apply(request.workspace, action, target, chosen)
        # One event for the whole action, however many contacts it reached.
        if action == "opt_out":
            book.record_opt_out(request.workspace, request.user, changed, "contacts page")
        else:
            changes.members_changed(
                target, request.user, changed, "contacts page", added=action == "add"
            )
    what = {
        "add": f"Added {changed:,} contact{pluralize(changed)} to {target}",
        "remove": f"Removed {changed:,} contact{pluralize(changed)} from {target}",
        "opt_out": f"Opted {changed:,} contact{pluralize(changed)} out",
    }[action]
    messages.success(request, what + ".")
    return _back(request)


def _chosen(request):
    """(the contacts the bulk action applies to or None, what is wrong with the filter): a
    filter that cannot be applied whole changes nobody rather than more than it showed."""
    if request.POST.get("scope") == "all":
        chosen = search.ContactFilter.from_query(request.POST)
        contacts = chosen.apply(request.workspace)
        return contacts, chosen.errors
    ids = [params.whole_number(value) for value in request.POST.getlist("contact")]
    ids = [pk for pk in ids if pk]
    if not ids:
        return None, []
    return Contact.objects.filter(workspace=request.workspace, pk__in=ids[:1000]), []


def _apply(workspace, action: str, target, contacts) -> int:
    chosen = contacts.order_by().values(chosen_id=F("pk"))[:BULK_LIMIT]
    if action == "opt_out":
        numbers = list(Contact.objects.filter(pk__in=chosen).values_list("phone", flat=True))
        return book.mark_opted_out(
            workspace, numbers, source=OptOutSource.MANUAL, note="Opted out on the contacts page"
        )
    if action == "remove":
        return ListMember.objects.filter(contact_list=target, contact_id__in=chosen).delete()[0]
    # One INSERT ... SELECT: a million members join without passing through Python.
    sql, sql_params = chosen.query.sql_with_params()
    table = ListMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (contact_list_id, contact_id, added_at) "
            # "WHERE true": SQLite would read ON CONFLICT as a join's ON otherwise.
            f"SELECT %s, chosen.chosen_id, %s FROM ({sql}) chosen "
            "WHERE true ON CONFLICT DO NOTHING",
            [target.pk, connection.ops.adapt_datetimefield_value(timezone.now()), *sql_params],
        )
        return cursor.rowcount


def _back(request):
    """To the contacts page with the filter the action was taken under."""
    url = reverse("contact_list")
    query = QueryDict(request.POST.get("query", "")).urlencode()
    if query:
        url += "?" + query
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
