"""The audit events of the contact book and of message templates (which live in campaigns but
are saved the same way): one per change a member or an API key makes, written inside the
change's transaction (audit.log.record).

A phone number never enters the log, since an erased contact's number must not survive there:
contacts are named by id, opt-outs (contacts.book) counted, lists, segments, fields and
templates named by name. An edit says which fields changed, never a contact's values.
``source`` says where the change was made: "page", "contacts page", "contact page",
"stop list", "file", "compose", "API" or "import".
"""

from __future__ import annotations

from django.db import transaction

from audit.log import record
from audit.models import Action
from contacts.forms import PREFIX

# model name -> (noun, the attribute naming it, None: by id, created, changed, deleted)
_KINDS = {
    "contact": (
        "contact",
        None,
        Action.CONTACT_CREATED,
        Action.CONTACT_CHANGED,
        Action.CONTACT_DELETED,
    ),
    "contactlist": ("list", "name", Action.LIST_CREATED, Action.LIST_RENAMED, Action.LIST_DELETED),
    "segment": (
        "segment",
        "name",
        Action.SEGMENT_CREATED,
        Action.SEGMENT_CHANGED,
        Action.SEGMENT_DELETED,
    ),
    "contactfield": (
        "field",
        "label",
        Action.FIELD_CREATED,
        Action.FIELD_CHANGED,
        Action.FIELD_DELETED,
    ),
    "messagetemplate": (
        "template",
        "name",
        Action.TEMPLATE_CREATED,
        Action.TEMPLATE_CHANGED,
        Action.TEMPLATE_DELETED,
    ),
}


def target(item) -> str:
    """What the event is about: "contact 12", "list Customers", "field City", "template Sale"."""
    noun, naming, *_ = _KINDS[item._meta.model_name]
    return f"{noun} {item.pk if naming is None else getattr(item, naming)}"


def _facts(item) -> dict:
    """The item's id, and what else identifies it without its values: a field's {key}, a
    template's channel."""
    noun = _KINDS[item._meta.model_name][0]
    facts = {f"{noun}_id": item.pk}
    if noun == "field":
        facts["placeholder"] = f"{{{item.key}}}"  # its key; "key" reads as a secret
    elif noun == "template":
        facts["channel"] = item.channel
    return facts


def _field_name(name: str) -> str:
    if name.startswith(PREFIX):
        return "field " + name.removeprefix(PREFIX)
    return name.removesuffix("_text").replace("_", " ")  # choices_text: choices; time zone


def save(form, actor, source: str, *, also_changed: tuple[str, ...] = ()):
    """Saves the valid model ``form`` and records the creation or the change in the same
    transaction; a change that changes nothing records none. ``also_changed`` names what the
    caller changed on the instance beside the form (a segment's conditions). Returns the
    saved instance; IntegrityError rolls both back and reaches the caller."""
    item = form.instance
    noun, naming, created, changed, _ = _KINDS[item._meta.model_name]
    creating = item._state.adding
    old_name = form.initial.get(naming) if naming else None
    fields = [_field_name(name) for name in form.changed_data] + list(also_changed)
    with transaction.atomic():
        saved = form.save()
        if creating:
            record(saved.workspace, actor, created, target(saved), **_facts(saved), source=source)
        elif fields:
            details = {f"{noun}_id": saved.pk}
            if naming and naming in fields:
                details[f"old_{naming}"] = old_name
                details[f"new_{naming}"] = getattr(saved, naming)
            if fields != [naming]:
                details["changed"] = fields
            record(saved.workspace, actor, changed, target(saved), **details, source=source)
    return saved


def delete(item, actor, source: str, **details) -> None:
    """Deletes ``item`` and records it in the same transaction; nothing when another request
    deleted it first (a double click records one deletion)."""
    deleted = _KINDS[item._meta.model_name][4]
    about, facts, workspace = target(item), _facts(item), item.workspace
    with transaction.atomic():
        if type(item).objects.filter(pk=item.pk).delete()[0]:
            record(workspace, actor, deleted, about, **facts, **details, source=source)


def members_changed(contact_list, actor, count: int, source: str, *, added: bool, **details):
    """Records ``count`` contacts added to (or removed from) the list as one event; nothing
    when none was. Call it inside the change's transaction."""
    if count:
        action = Action.LIST_MEMBERS_ADDED if added else Action.LIST_MEMBERS_REMOVED
        record(
            contact_list.workspace,
            actor,
            action,
            target(contact_list),
            list_id=contact_list.pk,
            contacts=count,
            **details,
            source=source,
        )
