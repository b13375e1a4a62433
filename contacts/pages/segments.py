"""The segments page (each with its count) and a segment's rules editor, whose count follows the
conditions as they are edited. A segment's members are the contacts page filtered by it.

The editor is one form: its rows post as parallel ``field``, ``op`` and ``value`` lists (a row
without a value posts an empty one). HTMX re-renders the rows when a field or an operator
changes (the value's input follows the field's kind), and only the count while a value is typed.
Without JavaScript, the add, remove and count buttons post the form and the page comes back.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from contacts import changes, counting, segments
from contacts.forms import SegmentNameForm
from contacts.models import ContactField, Segment
from contacts.pages.lists import drafts_drawing_on
from core import choices, params
from core.web import done
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

SEGMENT_COUNT_CAP = 1_000_000


@require_safe
@role_required(Role.VIEWER)
def segment_list(request):
    """The segments, drawn at once; each count arrives by itself (``?count=<pk>``, loaded by
    HTMX), since counting a segment of a million-contact book reads its candidates."""
    counted = params.whole_number(request.GET.get("count"))
    if counted:
        segment = get_for_workspace(request, Segment, pk=counted)
        exact = request.GET.get("exact") == "1"
        context = {"segment": segment, **_count(request.workspace, segment.conditions, exact)}
        return render(request, "contacts/segment_list.html#count", context)
    context = {
        "segments": Segment.objects.filter(workspace=request.workspace),
        "can_send": request.membership.can(Role.SENDER),
    }
    return render(request, "contacts/segment_list.html", context)


@role_required(Role.SENDER)
def segment_create(request):
    return _editor(request, Segment(workspace=request.workspace))


def segment_edit(request, segment_pk: int):
    segment = get_for_workspace(request, Segment, pk=segment_pk)
    require_role(request, Role.SENDER)
    return _editor(request, segment)


@require_POST
def segment_delete(request, segment_pk: int):
    segment = get_for_workspace(request, Segment, pk=segment_pk)
    require_role(request, Role.ADMIN)
    in_use = drafts_drawing_on(segment, "audience_of")
    if in_use:
        messages.error(request, in_use)
        return done(request, "segment_list")
    changes.delete(segment, request.user, "page")
    messages.success(request, f"Deleted the segment {segment}; no contact was changed.")
    return done(request, "segment_list")


def _editor(request, segment: Segment):
    workspace = request.workspace
    stored = segment.conditions
    form = SegmentNameForm(request.POST or None, instance=segment, workspace=workspace)
    raw = _posted(request.POST) if request.method == "POST" else _stored(segment.conditions)
    action = request.POST.get("action", "save") if request.method == "POST" else ""
    if action == "add":
        raw["rules"].append({"field": "", "op": "", "value": ""})
    elif action.startswith("remove:"):
        index = action.removeprefix("remove:")
        if index.isascii() and index.isdigit() and int(index) < len(raw["rules"]):
            del raw["rules"][int(index)]
    error = ""
    if action == "save":
        try:
            conditions = segments.parse(raw, workspace)
        except segments.InvalidConditions as exc:
            error = str(exc)
        if form.is_valid() and not error:
            form.instance.conditions = _canonical(raw, conditions)
            also = ("conditions",) if segment.pk and segment.conditions != stored else ()
            saved = changes.save(form, request.user, "page", also_changed=also)
            messages.success(request, f"Saved the segment {saved}.")
            return done(request, "segment_edit", saved.pk)
    context = {
        "form": form,
        "segment": segment,
        "raw": raw,
        "rows": _rows(workspace, raw),
        "error": error,
        "field_groups": field_groups(workspace),
        **_count(workspace, raw, exact=action == "count_exact"),
    }
    template = "contacts/segment_form.html"
    if request.htmx and action in ("count", "count_exact"):
        template += "#count"
    elif request.htmx and (action in ("add", "refresh") or action.startswith("remove:")):
        template += "#editor"
    return render(request, template, context)


def _posted(post) -> dict:
    fields, ops, values = post.getlist("field"), post.getlist("op"), post.getlist("value")
    rules = [
        {"field": f, "op": o, "value": v}
        for f, o, v in zip(fields, _padded(ops, fields), _padded(values, fields), strict=True)
    ][: segments.MAX_RULES + 1]
    return {"match": post.get("match", "all"), "rules": rules}


def _padded(items: list, like: list) -> list:
    """``items`` cut or padded with "" to the length of ``like``: a tampered form may post
    fewer values than fields."""
    return (items + [""] * len(like))[: len(like)]


def _stored(conditions) -> dict:
    conditions = conditions if isinstance(conditions, dict) else {}
    rules = [
        {"field": r.get("field", ""), "op": r.get("op", ""), "value": r.get("value", "")}
        for r in conditions.get("rules") or []
        if isinstance(r, dict)
    ]
    return {"match": conditions.get("match", "all"), "rules": rules}


def _canonical(raw: dict, conditions: segments.Conditions) -> dict:
    """The conditions as stored: checked, each value as typed text (a value-less op drops it)."""
    return {
        "match": conditions.match,
        "rules": [
            {
                "field": r.field,
                "op": r.op,
                "value": "" if r.value is None else str(given["value"]).strip(),
            }
            for r, given in zip(conditions.rules, raw["rules"], strict=True)
        ],
    }


def _count(workspace, raw, exact: bool = False) -> dict:
    """{"count", "more", "estimated", "margin", "invalid"}: the members counted up to
    SEGMENT_COUNT_CAP, or estimated where that would read much of the book (contacts.counting)
    unless ``exact``; or why the conditions cannot be counted yet."""
    try:
        members = segments.members(workspace, raw)
    except segments.InvalidConditions as exc:
        return {"count": None, "more": False, "estimated": False, "invalid": str(exc)}
    tally = counting.tally(members, SEGMENT_COUNT_CAP, exact=exact)
    return {
        "count": tally.value,
        "more": tally.more,
        "estimated": tally.estimated,
        "margin": tally.margin,
        "invalid": "",
    }


def _rows(workspace, raw: dict) -> list[dict]:
    """Each rule as the editor draws it: the field's operators and the input its value needs."""
    fields = segments.choosable_fields(workspace)
    choice_values = dict(
        ContactField.objects.filter(workspace=workspace).values_list("key", "choices")
    )
    lists = [(str(pk), name) for pk, name in workspace.contact_lists.values_list("pk", "name")]
    rows = []
    for index, rule in enumerate(raw["rules"]):
        _, kind, ops = fields.get(rule["field"], ("", "", {}))
        op = rule["op"] if rule["op"] in ops else next(iter(ops), "")
        row = {"index": index, "number": index + 1, "field": rule["field"], "op": op}
        row.update({"ops": ops, "value": str(rule["value"] or ""), "input": "none"})
        if op and op not in segments.NO_VALUE:
            row["input"], row["options"] = _value_input(kind, rule["field"], choice_values, lists)
        rows.append(row)
    return rows


def _value_input(kind: str, name: str, choice_values: dict, lists: list) -> tuple[str, list]:
    if kind == "country":
        return "select", choices.countries()
    if kind == "list":
        return "select", lists
    if kind == "choice":
        return "select", [(c, c) for c in choice_values.get(name.removeprefix("field:"), [])]
    if kind in ("number", "engagement"):
        return "number", []
    if kind == "date":
        return "date", []
    return "text", []


def field_groups(workspace) -> list[tuple[str, list[tuple[str, str]]]]:
    """The field select's options, the contact's own first, then the workspace's fields."""
    fields = segments.choosable_fields(workspace)
    own = [(key, label) for key, (label, _, _) in fields.items() if not key.startswith("field:")]
    custom = [(key, label) for key, (label, _, _) in fields.items() if key.startswith("field:")]
    return [("Contact", own), ("Fields", custom)] if custom else [("Contact", own)]
