"""The recipient import: upload or paste -> preview and mapping -> a background run that reads,
normalises, de-duplicates and checks every row, then adds or replaces the campaign's messages.

Rows stream through in batches, so memory stays flat, and nobody sees a new message before
the import's transaction commits: a failed or cancelled import leaves the recipients exactly as
they were. On PostgreSQL that transaction holds the whole run and each batch is COPYed as soon
as it is checked (the database indexes one batch while Python reads the next); on SQLite a
thread stages each batch in a temporary table while Python reads the next, and one
INSERT ... SELECT moves them into the message table in a short transaction at the end (see
bulk.MessageWriter and bulk.StagingWriter).

An import never hangs: the helper processes that read workbooks and validate numbers are
stopped however they behave (core.children), one that dies or stalls fails the import
with a plain reason, and every wait on them looks at Cancel at least once a second. A running
import gives a sign of life (``heartbeat_at``) after every batch and while it waits; one whose
worker died is failed by ``fail_abandoned`` (beat, every 30 s) once it has been silent for
``CRIER_IMPORT_STALE_SECONDS`` (120). ``CRIER_IMPORT_STALL_SECONDS`` (60) is how long a
validating child may owe an answer.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from itertools import islice

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from campaigns import number_index
from campaigns.models import (
    Campaign,
    ImportMode,
    ImportStatus,
    PlaceholderPolicy,
    RecipientImport,
)
from campaigns.recipients import bulk, checking
from contacts import book
from core import children
from core import imports as runs
from core.columns import detect_phone_column, placeholder_names, placeholders_in
from core.queue import enqueue
from core.rejections import write_rejections_csv
from core.statuses import CampaignStatus
from core.tables.reader import ENCODINGS
from core.tables.table import ImportRejected, Row
from webhooks import events

logger = logging.getLogger(__name__)

BATCH = 10_000
FIRST_BATCH = 2_000  # small, so that validating and storing start early
PREVIEW_ROWS = 10


class ImportNotAllowed(Exception):
    """The campaign or the import is not in a state that allows this step."""


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
    events.import_finished(imp.campaign.workspace_id, "recipients", imp)


def _finish(imp, status: str, error: str) -> None:
    runs.finish(imp, status, error, _finished)


def fail_abandoned() -> int:
    """Fails the running recipient imports whose worker died (core.imports.fail_abandoned);
    returns how many."""
    failed = runs.fail_abandoned(RecipientImport, _finished)
    if failed:
        logger.warning("Failed %s recipient import(s) left running by a dead worker", failed)
    return failed


def _check_draft(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise ImportNotAllowed(
            "Recipients can be changed only while the campaign is a draft; "
            "clone it to send to other people."
        )


def create(campaign: Campaign, user, *, upload=None, text: str = "") -> RecipientImport:
    """Stores an upload or a paste and reads its first rows for the mapping step.

    Raises ImportRejected (nothing is kept) when the file cannot be read at all.
    """
    _check_draft(campaign)
    imp = RecipientImport(campaign=campaign, created_by=user, pasted_text=text)
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


def refresh_preview(imp: RecipientImport, *, detect_column: bool = False) -> None:
    """Reads the first rows again with the import's options (the caller saves)."""
    with _open(imp) as table:
        rows = table.preview(PREVIEW_ROWS)
        imp.columns = table.columns
        imp.preview = [{"number": r.number, "cells": r.cells} for r in rows]
        # What detection chose is shown beside the user's choices, never mistaken for one:
        # an explicit choice changes how the file is read.
        chosen = {k: v for k, v in (imp.options or {}).items() if k != "detected"}
        detected = {
            "has_header": table.has_header,
            "encoding": ENCODINGS.get(table.encoding or "", table.encoding or ""),
            "delimiter": table.delimiter or "",
        }
        imp.options = {**chosen, "detected": detected}
        if detect_column or imp.phone_column is None or imp.phone_column >= len(table.columns):
            imp.phone_column = detect_phone_column(
                table.columns, rows, imp.campaign.workspace.default_country
            )


def remap(imp: RecipientImport, options: dict, phone_column: int | None) -> None:
    """Applies the user's reader options and phone column, reading the preview again.

    Raises ImportRejected when the file cannot be read that way; the import keeps its
    previous options then.
    """
    if imp.status != ImportStatus.UPLOADED:
        raise ImportNotAllowed("This import has already started; upload the file again.")
    previous = (dict(imp.options), imp.phone_column, imp.columns, imp.preview)
    options = {**options, "detected": imp.options.get("detected", {})}
    imp.options, imp.phone_column = options, phone_column
    try:
        refresh_preview(imp)
    except ImportRejected:
        imp.options, imp.phone_column, imp.columns, imp.preview = previous
        raise
    imp.save(update_fields=["options", "phone_column", "columns", "preview"])


def placeholders(imp: RecipientImport) -> dict[str, int]:
    """Placeholder name -> column: made from the header as a spreadsheet's is read, or the
    header itself where it holds names already (``options["names"] == "given"``: the API's
    JSON recipients, whose keys are the placeholders they fill, ``{orderId}`` included)."""
    if (imp.options or {}).get("names") == "given":
        return {name: i for i, name in enumerate(imp.columns) if i != imp.phone_column}
    return placeholder_names(imp.columns, imp.phone_column)


def confirm(imp: RecipientImport, mode: str) -> bool:
    """Queues the import; False when it was already queued (a double click starts it once)."""
    _check_draft(imp.campaign)
    if imp.phone_column is None:
        raise ImportNotAllowed("Choose which column holds the phone numbers.")
    updated = RecipientImport.objects.filter(pk=imp.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED, mode=mode, phone_column=imp.phone_column
    )
    if updated:
        enqueue("campaigns.tasks.run_import", imp.pk)
    return bool(updated)


def run(import_id: int) -> dict:
    """Runs a queued import to the end. Idempotent: only a queued import is started."""
    now = timezone.now()
    started = RecipientImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if not started:
        return {"import": import_id, "skipped": "not queued"}
    imp = RecipientImport.objects.select_related("campaign__workspace", "campaign__account").get(
        pk=import_id
    )
    try:
        with (
            checking.frozen_heap(),
            tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as report,
        ):
            _import(imp, report)
    except Cancelled:
        _finish(imp, ImportStatus.CANCELLED, "")
    except (ImportRejected, ImportNotAllowed) as exc:
        _finish(imp, ImportStatus.FAILED, str(exc))
    except children.ChildLost as lost:
        logger.warning("Recipient import %s failed: %s", import_id, lost)
        _finish(
            imp,
            ImportStatus.FAILED,
            f"Checking the numbers stopped: {lost}. Nothing was changed; start the import "
            "again, and tell your administrator if it happens again.",
        )
    except Exception:
        # Anything else is a bug, not bad input: it is logged with its traceback for us, and
        # the user is told plainly that nothing changed (the transaction rolled back).
        logger.exception("Recipient import %s failed", import_id)
        _finish(
            imp,
            ImportStatus.FAILED,
            "Crier hit an unexpected error; nothing was changed. Try again, and tell your "
            "administrator if it happens again.",
        )
    imp.refresh_from_db()
    return {"import": import_id, "status": imp.status, "accepted": imp.accepted}


def _import(imp: RecipientImport, report) -> None:
    writer = bulk.message_writer(imp.campaign_id, replace=imp.mode == ImportMode.REPLACE)
    if writer.streams:
        # Messages are stored while the file is read, all in one transaction; progress goes
        # through a second connection, so that the page polling it sees it meanwhile.
        with transaction.atomic(), writer, _Progress(imp, elsewhere=True) as progress:
            tally = _read_and_check(imp, writer, report, progress)
            _store(imp, writer, tally, report)
    else:
        with writer, _Progress(imp) as progress:
            tally = _read_and_check(imp, writer, report, progress)
            # Every row staged first: the claim in _store must read its own row count
            # (bulk.StagingWriter).
            writer.flush()
            with transaction.atomic():
                _store(imp, writer, tally, report)


def _read_and_check(imp: RecipientImport, writer, report, progress: _Progress) -> checking.Tally:
    """Reads every row, gives it its verdict, and hands the accepted ones to ``writer`` and
    the rejected ones to ``report``, batch by batch (the rows' own checks and their lines of
    COPY text on every core: campaigns.recipients.checking)."""
    campaign = imp.campaign
    _check_draft(campaign)
    rules = _rules(imp, writer.tail)
    checker = checking.Checker(rules)
    tally = checker.tally
    estimate = _estimate_rows(imp)
    write_rejections_csv([], report, imp.columns)  # the header row

    # The children fork first, while this process is small; forked after a workbook is
    # loaded, every one would carry the whole sheet too.
    stall_seconds = settings.CRIER_IMPORT_STALL_SECONDS
    pool = checking.Pool(checking.Lines(rules), stall_seconds=stall_seconds)
    with children.interruptible(progress.check), pool, _open(imp) as table:

        def batches() -> Iterator[list[Row]]:
            rows, size = iter(table), FIRST_BATCH
            while batch := list(islice(rows, size)):
                size = BATCH
                yield batch

        for batch, keys, lines, by_country in pool.answers(batches()):
            lines, rejected = checker.check(batch, keys, lines, by_country)
            tally.done += len(batch)
            tally.total = max(estimate or 0, tally.done)
            if rejected:
                report.write(_report_rows(rejected))
            progress(tally)
            writer.write(lines)
    if tally.done == 0:
        raise ImportRejected("empty", "The file has no rows under its header.")
    return tally


def _rules(imp: RecipientImport, tail: str) -> checking.Rules:
    """What the import checks each row against: the placeholders a row must fill, the
    numbers already in the campaign (adding) and stop-listed, the countries allowed."""
    campaign = imp.campaign
    names = placeholders(imp)
    required: list[tuple[str, int]] = []  # (name, column) a row must fill
    if campaign.placeholder_policy == PlaceholderPolicy.REJECT:
        used = placeholders_in(campaign.text)
        required = [(name, names[name]) for name in used if name in names]
    existing = set()
    if imp.mode == ImportMode.ADD:
        existing = set(campaign.messages.values_list("phone", flat=True))
    stop = set(book.opted_out_phones(campaign.workspace_id).values_list("phone", flat=True))
    allowed = campaign.account.allowed_country_set() if campaign.account else None
    return checking.Rules(
        default_country=campaign.workspace.default_country,
        allowed=frozenset(allowed) if allowed is not None else None,
        column=imp.phone_column,
        names=names,
        required=required,
        existing=existing,
        stop=stop,
        tail=tail,
    )


def _store(imp: RecipientImport, writer: bulk.MessageWriter, tally: checking.Tally, report) -> None:
    """Ends the import inside its transaction: the campaign still a draft and the import still
    running (neither cancelled nor failed as abandoned), the recipients stored (or replaced),
    the report saved."""
    campaign = Campaign.objects.select_for_update().get(pk=imp.campaign_id)
    _check_draft(campaign)
    # Claimed with a conditional update, which holds the row to the end of the transaction:
    # fail_abandoned can no longer fail it, nor can it be done if that came first.
    claimed = RecipientImport.objects.filter(
        pk=imp.pk, status=ImportStatus.RUNNING, cancel_requested=False
    ).update(status=ImportStatus.DONE)
    if not claimed:
        raise Cancelled
    writer.finish()
    number_index.changed([imp.campaign_id])
    if tally.rejected:
        # Saved as the bytes written, byte order mark and all: storage would write text
        # back in the locale's encoding.
        report.flush()
        report.buffer.seek(0)
        imp.rejections_file.save(f"rejected-rows-{imp.pk}.csv", File(report.buffer), save=False)
    imp.status = ImportStatus.DONE
    imp.accepted, imp.rejected = tally.accepted, tally.rejected
    imp.rows_done, imp.rows_total = tally.done, tally.total
    by_reason = {str(code): count for code, count in tally.by_reason.items()}
    imp.summary = {"by_reason": by_reason, "by_country": tally.by_country}
    imp.finished_at = timezone.now()
    imp.save(
        update_fields=[
            "status",
            "accepted",
            "rejected",
            "rows_done",
            "rows_total",
            "summary",
            "finished_at",
            "rejections_file",
        ]
    )
    _finished(imp)
