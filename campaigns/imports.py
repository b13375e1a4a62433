"""The recipient import: upload or paste -> preview and mapping -> a background run that reads,
normalises, de-duplicates and checks every row, then adds or replaces the campaign's messages
in one short transaction.

Accepted rows are spooled to a temporary file while the file is read, so memory stays flat and
the campaign is not touched until the very end: a failed or cancelled import leaves the
recipients exactly as they were.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

import python_calamine
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from campaigns import bulk, phones
from campaigns.models import (
    Campaign,
    CampaignStatus,
    ImportMode,
    ImportStatus,
    Message,
    PlaceholderPolicy,
    RecipientImport,
    StopListEntry,
    references,
)
from campaigns.recipients import (
    ENCODINGS,
    ImportRejected,
    ReadOptions,
    Row,
    Table,
    detect_phone_column,
    open_table,
    placeholder_names,
    placeholders_in,
    read_pasted,
)
from campaigns.rejections import Code, RejectedRow, Rejection, write_rejections_csv

logger = logging.getLogger(__name__)

BATCH = 10_000
PREVIEW_ROWS = 10


class ImportNotAllowed(Exception):
    """The campaign or the import is not in a state that allows this step."""


def read_options(imp: RecipientImport) -> ReadOptions:
    """The reader options of an import: the user's choices within the configured caps."""
    chosen = imp.options or {}
    return ReadOptions(
        encoding=chosen.get("encoding") or None,
        delimiter=chosen.get("delimiter") or None,
        quotechar=chosen.get("quotechar") or '"',
        has_header=chosen.get("has_header"),
        sheet=chosen.get("sheet") or None,
        max_rows=settings.CRIER_IMPORT_MAX_ROWS,
        max_columns=settings.CRIER_IMPORT_MAX_COLUMNS,
        max_bytes=settings.CRIER_IMPORT_MAX_BYTES,
    )


def _open(imp: RecipientImport) -> Table:
    if imp.file:
        return open_table(imp.file.path, filename=imp.filename, options=read_options(imp))
    return read_pasted(imp.pasted_text, read_options(imp))


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


def sheet_names(imp: RecipientImport) -> list[str]:
    """The sheets of an uploaded workbook (read after the guards in ``create`` passed)."""
    if not imp.file or not imp.filename.lower().endswith((".xlsx", ".xls")):
        return []
    return list(python_calamine.load_workbook(imp.file.path).sheet_names)


def placeholders(imp: RecipientImport) -> dict[str, int]:
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
        from campaigns.tasks import run_import

        run_import.delay_on_commit(imp.pk)
    return bool(updated)


def cancel(imp: RecipientImport) -> None:
    """Asks a queued or running import to stop; the campaign keeps its recipients as they are."""
    RecipientImport.objects.filter(
        pk=imp.pk, status__in=[ImportStatus.UPLOADED, ImportStatus.QUEUED]
    ).update(status=ImportStatus.CANCELLED, finished_at=timezone.now())
    RecipientImport.objects.filter(pk=imp.pk, status=ImportStatus.RUNNING).update(
        cancel_requested=True
    )


class Cancelled(Exception):
    pass


@dataclass
class _Tally:
    accepted: int = 0
    rejected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_country: dict[str, int] = field(default_factory=dict)

    def reject(self, code: Code) -> None:
        self.rejected += 1
        self.by_reason[code.value] = self.by_reason.get(code.value, 0) + 1


def run(import_id: int) -> dict:
    """Runs a queued import to the end. Idempotent: only a queued import is started."""
    started = RecipientImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not started:
        return {"import": import_id, "skipped": "not queued"}
    imp = RecipientImport.objects.select_related("campaign__workspace", "campaign__account").get(
        pk=import_id
    )
    try:
        with (
            tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as spool,
            tempfile.TemporaryFile("w+", newline="", encoding="utf-8-sig") as report,
        ):
            tally = _read_and_check(imp, spool, report)
            _store(imp, spool, tally, report)
    except Cancelled:
        _finish(imp, ImportStatus.CANCELLED, "")
    except (ImportRejected, ImportNotAllowed) as exc:
        _finish(imp, ImportStatus.FAILED, str(exc))
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


def _finish(imp: RecipientImport, status: str, error: str) -> None:
    RecipientImport.objects.filter(pk=imp.pk).update(
        status=status, error=error, finished_at=timezone.now()
    )


def _read_and_check(imp: RecipientImport, spool, report) -> _Tally:
    campaign = imp.campaign
    _check_draft(campaign)
    names = placeholders(imp)
    used = [n for n in placeholders_in(campaign.text) if n in names]
    reject_missing = campaign.placeholder_policy == PlaceholderPolicy.REJECT
    existing = (
        set(campaign.messages.values_list("phone", flat=True))
        if imp.mode == ImportMode.ADD
        else set()
    )
    stop = set(StopListEntry.objects.filter(workspace=campaign.workspace).values_list("phone"))
    stop = {phone for (phone,) in stop}
    seen: dict[str, int] = {}
    tally = _Tally()
    allowed = campaign.account.allowed_country_set() if campaign.account else None
    write_rejections_csv([], report, imp.columns)  # the header row
    rejected_rows: list[RejectedRow] = []
    column = imp.phone_column
    estimate = _estimate_rows(imp)
    encode = bulk.FieldsEncoder(names)
    done = 0

    # The Normaliser forks its workers first, while this process is small; forked after a
    # workbook is loaded, every worker would carry the whole sheet too.
    with phones.Normaliser(campaign.workspace.default_country, allowed) as n, _open(imp) as table:
        batches: deque[list[Row]] = deque()

        def raw_batches() -> Iterator[list[str]]:
            rows = iter(table)
            while batch := list(islice(rows, BATCH)):
                batches.append(batch)
                yield [r.cells[column] if column < len(r.cells) else "" for r in batch]

        spool_line, by_country = bulk.spool_line, tally.by_country
        for results in n.normalise_batches(raw_batches()):
            batch = batches.popleft()
            refs = references(len(batch))
            lines = []
            # The hot loop of a million-row import: the common case (a new, valid number) is
            # tested inline; everything else goes through _verdict.
            for ref, row, result in zip(refs, batch, results, strict=True):
                e164 = getattr(result, "e164", None)
                if (
                    e164 is None
                    or e164 in seen
                    or e164 in existing
                    or e164 in stop
                    or (reject_missing and used)
                ):
                    verdict = _verdict(
                        row, result, seen, existing, stop, used, names, reject_missing
                    )
                    if isinstance(verdict, Rejection):
                        tally.reject(verdict.code)
                        phone = row.cells[column] if column < len(row.cells) else ""
                        rejected_rows.append(RejectedRow(row.number, phone, verdict, row.cells))
                        continue
                seen[e164] = row.number
                region = result.region
                by_country[region] = by_country.get(region, 0) + 1
                lines.append(
                    spool_line(ref, e164, region, result.type, row.number, encode(row.cells))
                )
            tally.accepted += len(lines)
            spool.writelines(lines)
            done += len(batch)
            write_rejections_csv(rejected_rows, report, header=False)
            rejected_rows.clear()
            _progress(imp, done, max(estimate or 0, done), tally)
    if done == 0:
        raise ImportRejected("empty", "The file has no rows under its header.")
    return tally


def _verdict(row, result, seen, existing, stop, used, names, reject_missing):
    if isinstance(result, Rejection):
        return result
    if result.e164 in seen:
        return Rejection(Code.DUPLICATE_IN_FILE, str(seen[result.e164]))
    if result.e164 in existing:
        return Rejection(Code.DUPLICATE_IN_CAMPAIGN)
    if result.e164 in stop:
        return Rejection(Code.STOP_LISTED)
    if reject_missing:
        for name in used:
            index = names[name]
            if index >= len(row.cells) or not row.cells[index].strip():
                return Rejection(Code.MISSING_PLACEHOLDER, "{" + name + "}")
    return result


def _progress(imp: RecipientImport, done: int, total: int, tally: _Tally) -> None:
    RecipientImport.objects.filter(pk=imp.pk).update(
        rows_done=done, rows_total=total, accepted=tally.accepted, rejected=tally.rejected
    )
    if RecipientImport.objects.filter(pk=imp.pk, cancel_requested=True).exists():
        raise Cancelled


def _estimate_rows(imp: RecipientImport) -> int | None:
    """About how many rows the import has, for the progress bar: lines of a text file."""
    if not imp.file:
        return imp.pasted_text.count("\n") + 1
    if not imp.filename.lower().endswith((".csv", ".txt")):
        return None
    with open(imp.file.path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    header = (imp.options or {}).get("detected", {}).get("has_header")
    return max(lines - (1 if header else 0), 0) or None


def _store(imp: RecipientImport, spool, tally: _Tally, report) -> None:
    """Adds (or replaces with) the spooled recipients in one transaction, and saves the report."""
    report.seek(0)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=imp.campaign_id)
        _check_draft(campaign)
        if RecipientImport.objects.filter(pk=imp.pk, cancel_requested=True).exists():
            raise Cancelled
        if imp.mode == ImportMode.REPLACE:
            Message.objects.filter(campaign=campaign).delete()
        bulk.insert_messages(campaign.pk, spool)
        if tally.rejected:
            imp.rejections_file.save(f"rejected-rows-{imp.pk}.csv", File(report), save=False)
        imp.status = ImportStatus.DONE
        imp.accepted, imp.rejected = tally.accepted, tally.rejected
        imp.summary = {"by_reason": tally.by_reason, "by_country": tally.by_country}
        imp.finished_at = timezone.now()
        imp.save(
            update_fields=[
                "status",
                "accepted",
                "rejected",
                "summary",
                "finished_at",
                "rejections_file",
            ]
        )
