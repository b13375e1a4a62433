"""The contact-book import: upload or paste -> preview and column mapping -> a background run
that reads, normalises and checks every row and upserts the contacts by number, creating the
fields the mapping asks for and filling a list.

The run is the campaign import's pipeline (core.tables readers, each row's own checks and
its lines of COPY text made on every core by core.checking's children, contacts.checking; the
core.rejections report), storing contacts instead of messages (contacts.upsert). Nobody sees a
change before the import's transaction commits: on PostgreSQL it holds the whole run and each
batch is upserted as soon as it is checked; elsewhere the checked rows wait in a temporary file
for one transaction at the end. A failed or cancelled import changes nothing.

A number seen again later in the file replaces the earlier row (the last one wins); the
earlier row goes into the rejected-rows report saying which row replaced it.

Longer than 400 lines because the import is one state machine (created, previewed, mapped,
queued, run, finished, cancelled or failed) whose steps share its row checks and progress.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from itertools import islice

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from audit.log import record
from audit.models import Action
from contacts import checking, mapping, search_indexes, upsert
from contacts.models import (
    Contact,
    ContactField,
    ContactImport,
    ContactList,
    ImportStatus,
    ListAction,
    ListMember,
    OptOutSource,
    UpsertMode,
)
from contacts.signals import contacts_added
from core import children
from core import imports as runs
from core.checking import Pool, frozen_heap
from core.columns import detect_phone_column
from core.queue import enqueue
from core.rejections import write_rejections_csv
from core.tables.reader import ENCODINGS
from core.tables.table import ImportRejected, Row
from webhooks import events

logger = logging.getLogger(__name__)

BATCH = 10_000
FIRST_BATCH = 2_000  # small, so that checking and storing start early
PREVIEW_ROWS = 10


class ImportNotAllowed(Exception):
    """The import is not in a state that allows this step, or its mapping cannot run."""


# The run's machinery is the one every import shares (core.imports).
Cancelled = runs.Cancelled
_Progress = runs.Progress
ABANDONED = runs.ABANDONED
read_options = runs.read_options
sheet_names = runs.sheet_names
cancel = runs.cancel
_open = runs.open_upload
_report_rows = runs.report_rows
_estimate_rows = runs.estimate_rows


def _finished(imp) -> None:
    """``import.finished`` for the import, inside the transaction that ends it, so a
    subscriber hears of every import that ended and of none that did not."""
    events.import_finished(imp.workspace_id, "contacts", imp)


def _finish(imp, status: str, error: str) -> None:
    runs.finish(imp, status, error, _finished)


def fail_abandoned() -> int:
    """Fails the running contact imports whose worker died (core.imports.fail_abandoned);
    returns how many."""
    failed = runs.fail_abandoned(ContactImport, _finished)
    if failed:
        logger.warning("Failed %s contact import(s) left running by a dead worker", failed)
    return failed


def create(workspace, user, *, upload=None, text: str = "") -> ContactImport:
    """Stores an upload or a paste, reads its first rows and guesses the mapping.

    Raises ImportRejected (nothing is kept) when the file cannot be read at all.
    """
    imp = ContactImport(workspace=workspace, created_by=user, pasted_text=text)
    if upload is not None:
        imp.filename = os.path.basename(upload.name)[:255]
        imp.file.save(imp.filename, upload, save=False)
    try:
        refresh_preview(imp, detect_column=True)
    except ImportRejected:
        if imp.file:
            imp.file.delete(save=False)
        raise
    imp.save()
    return imp


def refresh_preview(imp: ContactImport, *, detect_column: bool = False) -> None:
    """Reads the first rows again with the import's options and fits the mapping to the
    columns (the caller saves)."""
    with _open(imp) as table:
        rows = table.preview(PREVIEW_ROWS)
        reshaped = imp.columns != table.columns
        imp.columns = table.columns
        imp.preview = [{"number": r.number, "cells": r.cells} for r in rows]
        chosen = {k: v for k, v in (imp.options or {}).items() if k != "detected"}
        detected = {
            "has_header": table.has_header,
            "encoding": ENCODINGS.get(table.encoding or "", table.encoding or ""),
            "delimiter": table.delimiter or "",
        }
        imp.options = {**chosen, "detected": detected}
        if detect_column or reshaped:
            imp.phone_column = detect_phone_column(
                table.columns, rows, imp.workspace.default_country
            )
            imp.mapping, imp.new_fields = mapping.guess(imp)


def remap(imp: ContactImport, options: dict, mapping: list[str], new_fields: dict) -> None:
    """Applies the user's reader options and column mapping, reading the preview again.

    Raises ImportRejected when the file cannot be read that way (the import keeps its previous
    options then); a mapping that cannot run is stored all the same and refused by ``confirm``.
    """
    if imp.status != ImportStatus.UPLOADED:
        raise ImportNotAllowed("This import has already started; upload the file again.")
    previous = (dict(imp.options), imp.columns, imp.preview, imp.mapping, imp.new_fields)
    imp.options = {**options, "detected": imp.options.get("detected", {})}
    phone = [i for i, target in enumerate(mapping) if target == "phone"]
    imp.phone_column = phone[0] if phone else None
    imp.mapping, imp.new_fields = mapping, new_fields
    try:
        refresh_preview(imp)
    except ImportRejected:
        imp.options, imp.columns, imp.preview, imp.mapping, imp.new_fields = previous
        raise
    imp.save(
        update_fields=["options", "phone_column", "columns", "preview", "mapping", "new_fields"]
    )


def confirm(
    imp: ContactImport,
    upsert_mode: str,
    list_action: str,
    contact_list: ContactList | None = None,
    new_list_name: str = "",
) -> bool:
    """Queues the import; False when it was already queued (a double click starts it once).
    Raises ImportNotAllowed with the mapping's problems."""
    if problems := mapping.problems(imp):
        raise ImportNotAllowed(" ".join(problems))
    if list_action != ListAction.NONE and contact_list is None and not new_list_name.strip():
        raise ImportNotAllowed("Choose the list, or name a new one.")
    updated = ContactImport.objects.filter(pk=imp.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED,
        upsert=upsert_mode,
        list_action=list_action,
        contact_list=contact_list if list_action != ListAction.NONE else None,
        new_list_name=new_list_name.strip()[:200] if list_action != ListAction.NONE else "",
    )
    if updated:
        enqueue("contacts.tasks.run_import", imp.pk)
    return bool(updated)


def run(import_id: int) -> dict:
    """Runs a queued import to the end. Idempotent: only a queued import is started."""
    now = timezone.now()
    started = ContactImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if not started:
        return {"import": import_id, "skipped": "not queued"}
    imp = ContactImport.objects.select_related("workspace", "contact_list").get(pk=import_id)
    try:
        with (
            frozen_heap(),
            tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as report,
        ):
            _import(imp, report)
    except Cancelled:
        _finish(imp, ImportStatus.CANCELLED, "")
    except (ImportRejected, ImportNotAllowed) as exc:
        _finish(imp, ImportStatus.FAILED, str(exc))
    except children.ChildLost as lost:
        logger.warning("Contact import %s failed: %s", import_id, lost)
        _finish(
            imp,
            ImportStatus.FAILED,
            f"Checking the numbers stopped: {lost}. Nothing was changed; start the import "
            "again, and tell your administrator if it happens again.",
        )
    except Exception:
        logger.exception("Contact import %s failed", import_id)
        _finish(
            imp,
            ImportStatus.FAILED,
            "Crier hit an unexpected error; nothing was changed. Try again, and tell your "
            "administrator if it happens again.",
        )
    imp.refresh_from_db()
    return {"import": import_id, "status": imp.status, "accepted": imp.accepted}


def _import(imp: ContactImport, report) -> None:
    stamp = imp.started_at or timezone.now()
    if connection.vendor == "postgresql":
        # Contacts are upserted while the file is read, all in one transaction; progress goes
        # through a second connection, so that the page polling it sees it meanwhile.
        with transaction.atomic(), _Progress(imp, elsewhere=True) as progress:
            target = _prepare(imp, stamp)
            with upsert.streaming(target) as writer:
                checker = _read_and_check(imp, target, writer, report, progress)
            _store(imp, target, writer, checker, report)
    else:
        with upsert.spooled(None) as writer, _Progress(imp) as progress:
            target = _target(imp, stamp)
            checker = _read_and_check(imp, target, writer, report, progress)
            with transaction.atomic():
                target = _prepare(imp, stamp)
                writer.flush_to(target)
                _store(imp, target, writer, checker, report)


def _target(imp: ContactImport, stamp) -> upsert.Target:
    """What the rows are checked against and stored into, without creating anything yet."""
    fields = {f.key: f for f in ContactField.objects.filter(workspace=imp.workspace)}
    for key, spec in imp.new_fields.items():
        if f"new:{key}" in imp.mapping:
            fields[key] = ContactField(
                workspace=imp.workspace, key=key, label=spec["label"], kind=spec["kind"]
            )
    return upsert.Target(
        workspace_id=imp.workspace_id,
        stamp=stamp,
        fill_blanks=imp.upsert == UpsertMode.FILL_BLANKS,
        mapped=set(imp.mapping),
        fields=fields,
    )


def _prepare(imp: ContactImport, stamp) -> upsert.Target:
    """Inside the import's transaction: creates the new fields and the new list, empties a
    list being replaced, and returns the target with the list to fill."""
    if problems := mapping.problems(imp):
        raise ImportNotAllowed(" ".join(problems))
    _hold_workspace(imp.workspace_id)
    for key, spec in imp.new_fields.items():
        if f"new:{key}" in imp.mapping:
            ContactField.objects.create(
                workspace=imp.workspace, key=key, label=spec["label"][:100], kind=spec["kind"]
            )
    target = _target(imp, stamp)
    target.new_book = not Contact.objects.filter(workspace_id=imp.workspace_id).exists()
    if imp.list_action != ListAction.NONE:
        contact_list = imp.contact_list
        if contact_list is None:
            contact_list, _ = ContactList.objects.get_or_create(
                workspace=imp.workspace, name=imp.new_list_name or f"Import {imp.pk}"
            )
            ContactImport.objects.filter(pk=imp.pk).update(contact_list=contact_list)
            imp.contact_list = contact_list
        if imp.list_action == ListAction.REPLACE:
            ListMember.objects.filter(contact_list=contact_list).delete()
        target.list_id = contact_list.pk
    # COPYed straight into the contacts (upsert.StreamingWriter), left out of the table's
    # search indexes: a big import into an empty book on PostgreSQL.
    target.bulk = (
        target.new_book
        and target.list_id is None
        and connection.vendor == "postgresql"
        and (_estimate_rows(imp) or 0) >= search_indexes.BULK_ROWS
        and search_indexes.room_for_a_book()
    )
    return target


def _hold_workspace(workspace_id: int) -> None:
    """Locks the workspace row as a foreign key's check would (Contact.workspace has none):
    until the import's transaction ends the workspace cannot be deleted, and a deletion that
    locked it first (workspaces.admin) makes the import fail instead of leaving contacts
    behind. Raises ImportNotAllowed when the workspace is gone."""
    table = Contact._meta.get_field("workspace").related_model._meta.db_table
    lock = " FOR KEY SHARE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s{lock}", [workspace_id])
        if cursor.fetchone() is None:
            raise ImportNotAllowed("The workspace was deleted.")


def _read_and_check(imp, target, writer, report, progress) -> checking.Checker:
    """Reads every row, checks it and hands it to ``writer`` (the rejected ones to
    ``report``), batch by batch: each row's own checks and its lines of COPY text on every
    core, the last row of a number chosen here (contacts.checking)."""
    rules = checking.rules(imp, target, writer)
    checker = checking.Checker(rules)
    tally = checker.tally
    estimate = _estimate_rows(imp)
    write_rejections_csv([], report, imp.columns)  # the header row
    # The children fork first, while this process is small; forked after a workbook is
    # loaded, every one would carry the whole sheet too.
    stall_seconds = settings.CRIER_IMPORT_STALL_SECONDS
    pool = Pool(checking.Lines(rules), stall_seconds=stall_seconds)
    with children.interruptible(progress.check), pool, _open(imp) as table:

        def batches() -> Iterator[list[Row]]:
            rows, size = iter(table), FIRST_BATCH
            while batch := list(islice(rows, size)):
                size = BATCH
                yield batch

        for batch, *answer in pool.answers(batches()):
            checked, rejected = checker.check(batch, *answer)
            tally.done += len(batch)
            tally.total = max(estimate or 0, tally.done)
            if rejected:
                report.write(_report_rows(rejected))
            progress(tally)
            writer.write(checked)
    if tally.done == 0:
        raise ImportRejected("empty", "The file has no rows under its header.")
    return checker


def _store(imp, target, writer, checker: checking.Checker, report) -> None:
    """Ends the import inside its transaction: claims it (neither cancelled nor failed as
    abandoned meanwhile), counts what changed, saves the report."""
    tally = checker.tally
    claimed = ContactImport.objects.filter(
        pk=imp.pk, status=ImportStatus.RUNNING, cancel_requested=False
    ).update(status=ImportStatus.DONE)
    if not claimed:
        raise Cancelled
    writer.finish()
    known = writer.created()
    created, updated = (known, 0) if known is not None else upsert.counts(target)
    if created:  # stamped with the import's start (upsert.Target.stamp)
        contacts_added.send(ContactImport, workspace_id=imp.workspace_id, since=target.stamp)
    if target.bulk and Contact.objects.filter(workspace=imp.workspace, bulk_loaded=True).exists():
        # Their search indexes, once they are committed (contacts.search_indexes).
        enqueue("contacts.tasks.build_search_indexes", imp.workspace_id)
    if tally.rejected:
        report.flush()
        report.buffer.seek(0)
        imp.rejections_file.save(f"rejected-contacts-{imp.pk}.csv", File(report.buffer), save=False)
    imp.status = ImportStatus.DONE
    imp.accepted, imp.rejected = tally.accepted, tally.rejected
    imp.created, imp.updated = created, updated
    imp.unchanged = max(len(checker.seen) - created - updated, 0)
    imp.rows_done, imp.rows_total = tally.done, tally.total
    by_reason = {str(code): count for code, count in tally.by_reason.items()}
    imp.summary = {"by_reason": by_reason, "by_country": tally.by_country}
    imp.finished_at = timezone.now()
    imp.save(
        update_fields=[
            "status",
            "accepted",
            "rejected",
            "created",
            "updated",
            "unchanged",
            "rows_done",
            "rows_total",
            "summary",
            "finished_at",
            "rejections_file",
            "contact_list",
        ]
    )
    _audit(imp, target)
    _finished(imp)


def _audit(imp: ContactImport, target: upsert.Target) -> None:
    """The finished import as one audit event by its creator, with its counts (inside the
    import's transaction: a cancelled or failed import records nothing)."""
    details = {
        "import_id": imp.pk,
        "created": imp.created,
        "updated": imp.updated,
        "unchanged": imp.unchanged,
        "rejected": imp.rejected,
    }
    if "opted_out" in target.mapped:
        details["opted_out"] = Contact.objects.filter(
            workspace_id=imp.workspace_id,
            opted_out_at=target.stamp,
            opt_out_source=OptOutSource.IMPORT,
        ).count()
    if new_fields := [key for key in imp.new_fields if f"new:{key}" in imp.mapping]:
        details["new_fields"] = new_fields
    if imp.list_action != ListAction.NONE and imp.contact_list is not None:
        details.update(
            list_id=imp.contact_list.pk, list=imp.contact_list.name, list_action=imp.list_action
        )
    record(
        imp.workspace,
        imp.created_by,
        Action.CONTACTS_IMPORTED,
        f"contact import {imp.pk}",
        **details,
        source="import",
    )
