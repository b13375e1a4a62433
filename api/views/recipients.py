"""A draft's recipients through the API: a JSON array or a file, through the same import as
the pages (numbers normalised, duplicates and opted-out numbers removed, every refused row
reported), and the import's progress and rejected rows."""

from __future__ import annotations

import csv
import io

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api import serializers as s
from api.keys import actor
from api.problems import Problem
from api.views.base import ApiView
from api.views.campaigns import _draft, campaign_of
from campaigns.models import RecipientImport
from campaigns.recipients import imports
from core import uploads
from core.columns import PLACEHOLDER
from core.rejections import read_rejections
from core.tables.table import ImportRejected


def _import_of(request, pk: int) -> RecipientImport:
    return get_object_or_404(
        RecipientImport.objects.select_related("campaign"),
        campaign__workspace=request.workspace,
        pk=pk,
    )


def _start_import(
    campaign, user, mode: str, phone_column=None, options=None, **source
) -> RecipientImport:
    try:
        imp = imports.create(campaign, user, **source)
        if options or phone_column is not None or imp.phone_column is None:
            imports.remap(imp, {**(imp.options or {}), **(options or {})}, phone_column)
        imports.confirm(imp, mode)
    except imports.ImportNotAllowed as error:
        raise Problem("wrong-state", str(error), campaign_status=campaign.status) from None
    except ImportRejected as error:
        raise ValidationError({"file": [str(error)]}) from None
    imp.refresh_from_db()
    return imp


class CampaignRecipients(ApiView):
    @extend_schema(request=s.RecipientsSerializer, responses={202: s.ImportSerializer})
    def post(self, request, campaign_pk: int):
        """Adds (or replaces with) up to 100,000 recipients with their placeholder values,
        through the same import as a file: numbers normalised, duplicates and opted-out
        numbers removed, every refused row reported (follow the import's ``status``)."""
        campaign = campaign_of(request, campaign_pk)
        _draft(campaign)
        given = s.RecipientsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        recipients = given.validated_data["recipients"]
        names = sorted({name for r in recipients for name in r.get("fields", {})})
        # A key is the placeholder it fills, as given ({"orderId": ...} fills {orderId}).
        bad = [n for n in names if not PLACEHOLDER.fullmatch("{" + n + "}") or len(n) > 100]
        if bad:
            raise ValidationError(
                {
                    "recipients": [
                        f"“{bad[0]}” cannot be a field name: a field fills the {{placeholder}} "
                        "of its name, so use letters, digits and _ only (up to 100)."
                    ]
                }
            )
        if any(n.casefold() == "phone" for n in names):
            raise ValidationError({"recipients": ["“phone” cannot be a field name."]})
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["phone", *names])
        for r in recipients:
            fields = r.get("fields", {})
            writer.writerow([r["phone"], *(fields.get(n, "") for n in names)])
        imp = _start_import(
            campaign,
            actor(request),
            given.validated_data["mode"],
            phone_column=0,
            # Read back exactly as written: comma-separated, a header of the names as given.
            options={"delimiter": ",", "has_header": True, "names": "given"},
            text=out.getvalue(),
        )
        return Response(s.ImportSerializer(imp).data, status=status.HTTP_202_ACCEPTED)


class CampaignUpload(ApiView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": s.UploadSerializer}, responses={202: s.ImportSerializer}
    )
    def post(self, request, campaign_pk: int):
        """Imports a CSV, TXT, XLSX or XLS file of recipients (the phone column is guessed
        from the header unless given)."""
        campaign = campaign_of(request, campaign_pk)
        _draft(campaign)
        if getattr(request._request, "refused_upload", None) is None:
            request.data  # noqa: B018 -- parsed now, through core.uploads' size check
        refused = getattr(request._request, "refused_upload", None)
        if refused == uploads.BUSY:
            raise Problem("busy", refused, retry_after=5)
        if refused:
            raise Problem("payload-too-large", refused)
        given = s.UploadSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        imp = _start_import(
            campaign,
            actor(request),
            given.validated_data["mode"],
            phone_column=given.validated_data.get("phone_column"),
            upload=given.validated_data["file"],
        )
        return Response(s.ImportSerializer(imp).data, status=status.HTTP_202_ACCEPTED)


class ImportDetail(ApiView):
    @extend_schema(responses=s.ImportSerializer)
    def get(self, request, import_pk: int):
        """An import's progress and result."""
        return Response(s.ImportSerializer(_import_of(request, import_pk)).data)


class ImportRejections(ApiView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=s.RejectedRowsSerializer,
    )
    def get(self, request, import_pk: int):
        """The rows the import refused, each with its reason."""
        imp = _import_of(request, import_pk)
        limit = _bounded(request.query_params.get("limit"), 1000, 10_000)
        offset = _bounded(request.query_params.get("offset"), 0, 10**9)
        rows = read_rejections(imp.rejections_file, offset, limit) if imp.rejections_file else []
        return Response(
            {"count": imp.rejected, "results": s.RejectedRowSerializer(rows, many=True).data}
        )


def _bounded(value, default: int, most: int) -> int:
    try:
        number = int(value) if value not in (None, "") else default
    except ValueError:
        raise ValidationError({"limit": ["Give a whole number."]}) from None
    return max(0, min(number, most))
