"""The rate card of a provider account: pages to read it, edit it inline and import it.

Everyone in the workspace may read an account's rates; changing them needs the admin role.
An import is all or nothing: a file with one bad row changes no rate, and the page lists
every bad row with its number and what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from audit.log import record
from audit.models import Action

# The one table reader, with its encoding and delimiter detection. It lives with the
# recipient import, which makes this module the one place where providers reads campaigns.
from core.tables.reader import open_table
from core.tables.table import ImportRejected, ReadOptions, Row, Table
from core.web import done
from providers.models import ProviderAccount, Rate, split_destination, validate_country
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required

MAX_RATE_ROWS = 50_000


class RateForm(forms.ModelForm):
    country = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "KZ", "size": 4}),
    )

    class Meta:
        model = Rate
        fields = ["channel", "country", "prefix", "price", "note"]
        widgets = {
            "prefix": forms.TextInput(attrs={"placeholder": "7701", "inputmode": "numeric"}),
            "price": forms.NumberInput(attrs={"step": "any", "min": "0"}),
        }

    def __init__(self, *args, account: ProviderAccount, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.account = account
        if self.instance.pk:
            self.initial["price"] = self.instance.price_text
        for name in self.fields:  # no room in an inline row; a line under the form explains
            self.fields[name].help_text = ""
        self.fields["channel"].required = False
        self.fields["price"].label = "Price"  # per part or per call: the channel says which

    def clean_channel(self):
        return self.cleaned_data["channel"] or Rate.Channel.SMS  # SMS unless told otherwise

    def clean_country(self):
        # Before the model's two-character limit, so "KAZ" hears which rule it broke.
        country = self.cleaned_data["country"].strip().upper()
        if country:
            validate_country(country)
        return country

    def _get_validation_exclusions(self):
        # The account is set on the instance rather than posted, and ModelForm would leave
        # the one-rate-per-destination constraints out along with it.
        return super()._get_validation_exclusions() - {"account"}


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, TXT, XLSX or XLS. Columns: country code or dialling prefix, price, "
        "and an optional note; a header row is optional."
    )
    channel = forms.ChoiceField(
        choices=Rate.Channel.choices,
        initial=Rate.Channel.SMS,
        required=False,  # SMS unless told otherwise
        label="The prices are for",
        help_text="SMS: one part. Voice: one call.",
    )
    replace = forms.BooleanField(
        label="Replace the whole rate card of this channel",
        required=False,
        help_text="Unticked, the file adds rates and updates the ones it names.",
    )


# --- The import ----------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)  # "Row 3: …", in file order


def import_rates(
    account: ProviderAccount,
    table: Table,
    *,
    replace: bool = False,
    channel: str = Rate.Channel.SMS,
) -> ImportResult:
    """Sets the ``channel`` rates the table lists (a row: destination, price, note), all or
    nothing.

    Nothing is written unless every row is good. ``replace`` deletes the channel's rates the
    file does not list. Raises ImportRejected for a file that cannot be read at all.
    """
    result = ImportResult()
    card = account.rates.filter(channel=channel)
    existing = {(r.country, r.prefix): r for r in card}
    seen: dict[tuple[str, str], int] = {}
    rates: list[Rate] = []
    for position, row in enumerate(table):
        if position == 0 and _is_header(row):
            continue
        rate, error = _rate_from_row(account, row, existing, channel)
        if error is None and rate is not None:
            key = (rate.country, rate.prefix)
            if key in seen:
                error = f"{rate.destination} is already on row {seen[key]}."
            seen[key] = row.number
        if error:
            result.errors.append(f"Row {row.number}: {error}")
        elif rate is not None:
            rates.append(rate)
    if result.errors:
        return result
    with transaction.atomic():
        if replace:
            keep = [r.pk for r in rates if r.pk]
            result.deleted, _ = card.exclude(pk__in=keep).delete()
        changed = [r for r in rates if r.pk]
        for rate in changed:  # bulk_update skips auto_now
            rate.updated_at = timezone.now()
        Rate.objects.bulk_update(changed, ["price", "note", "updated_at"])
        Rate.objects.bulk_create([r for r in rates if not r.pk])
    result.updated, result.created = len(changed), len(rates) - len(changed)
    return result


def _rate_from_row(account, row: Row, existing, channel: str) -> tuple[Rate | None, str | None]:
    cells = [c.strip() for c in row.cells]
    destination, price_text, note = [*cells, "", "", ""][:3]
    if not destination and not price_text:
        return None, None  # a row of empty cells beyond the ones we read
    if not destination:
        return None, "the country code or dialling prefix is empty."
    if not price_text:
        return None, f"{destination} has no price."
    price = _decimal(price_text)
    if price is None:
        return None, f"“{price_text}” is not a price; write it like 0.035."
    country, prefix = split_destination(destination)
    if country and len(country) != 2:
        return None, (
            f"“{destination}” is neither a two-letter country code nor a dialling prefix."
        )
    rate = existing.get((country, prefix)) or Rate(
        account=account, channel=channel, country=country, prefix=prefix
    )
    rate.price, rate.note = price, note[:255]
    try:
        rate.full_clean(exclude=["account"], validate_unique=False)
    except ValidationError as error:
        return None, " ".join(m for ms in error.message_dict.values() for m in ms)
    return rate, None


def _decimal(text: str) -> Decimal | None:
    """A price as people write it: "0.035", "0,035" (a decimal comma), "1 200.50"."""
    text = text.replace(" ", "").replace("\u00a0", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _is_header(row: Row) -> bool:
    """A first row is a header when neither its first cell is a destination nor its second
    a number ("country;price", "Prefix,Price USD")."""
    cells = [*row.cells, "", ""]
    country, prefix = split_destination(cells[0])
    return len(country) != 2 and not prefix and _decimal(cells[1].strip()) is None


# --- Views ---------------------------------------------------------------------------------


def _page(account, **extra) -> dict:
    """The context of the rate card page and its partials; ``extra`` overrides the defaults."""
    return {
        "account": account,
        "rates": account.rates.all(),
        "form": RateForm(account=account),
        "import_form": ImportForm(),
        **extra,
    }


def _audit(request, rate: Rate, **changes) -> None:
    """A rate added (old price None), edited or removed (new price None): what changed."""
    record(request.workspace, request.user, Action.RATE_CARD_CHANGED,
           f"account {rate.account.name}", destination=rate.destination, **changes)  # fmt: skip


@require_safe
@role_required(Role.VIEWER)
def rate_list(request, account_pk: int):
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    return render(request, "providers/rate_card.html", _page(account))


@require_POST
def rate_add(request, account_pk: int):
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    require_role(request, Role.ADMIN)
    form = RateForm(request.POST, account=account)
    if form.is_valid():
        with transaction.atomic():
            rate = form.save()
            _audit(request, rate, price={"old": None, "new": rate.price_text})
        if not request.htmx:
            messages.success(request, f"Added the rate for {rate.destination}.")
            return done(request, "rate_list", account.pk)
        return render(request, "providers/rate_card.html#rates", _page(account))
    context = _page(account, form=form)
    template = "providers/rate_card.html" + ("#rates" if request.htmx else "")
    return render(request, template, context, status=200 if request.htmx else 400)


def rate_edit(request, rate_pk: int):
    rate = get_for_workspace(request, Rate, "account__workspace", pk=rate_pk)
    require_role(request, Role.ADMIN)
    old_price, old_note = rate.price_text, rate.note
    form = RateForm(request.POST or None, instance=rate, account=rate.account)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            rate = form.save()
            changes = {"price": {"old": old_price, "new": rate.price_text},
                       "note": {"old": old_note, "new": rate.note}}  # fmt: skip
            if changed := {k: v for k, v in changes.items() if v["old"] != v["new"]}:
                _audit(request, rate, **changed)
        if not request.htmx:
            return done(request, "rate_list", rate.account_id)
        return render(request, "providers/rate_card.html#rate-row", {"rate": rate})
    if request.htmx:
        context = {"rate": rate, "edit_form": form, "editing": rate.pk, "account": rate.account}
        return render(request, "providers/rate_card.html#rate-row", context)
    context = _page(rate.account, editing=rate.pk, edit_form=form)
    return render(request, "providers/rate_card.html", context)


@require_POST
def rate_delete(request, rate_pk: int):
    rate = get_for_workspace(request, Rate, "account__workspace", pk=rate_pk)
    require_role(request, Role.ADMIN)
    with transaction.atomic():
        rate.delete()
        _audit(request, rate, price={"old": rate.price_text, "new": None})
    if request.htmx:
        return render(request, "providers/rate_card.html#rates", _page(rate.account))
    messages.success(request, f"Deleted the rate for {rate.destination}.")
    return done(request, "rate_list", rate.account_id)


@require_POST
def rate_import(request, account_pk: int):
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    require_role(request, Role.ADMIN)
    form = ImportForm(request.POST, request.FILES)
    result = None
    if form.is_valid():
        upload = form.cleaned_data["file"]
        options = ReadOptions(has_header=False, max_rows=MAX_RATE_ROWS, max_columns=20)
        try:
            with open_table(upload, filename=upload.name, options=options) as table:
                result = import_rates(
                    account,
                    table,
                    replace=form.cleaned_data["replace"],
                    channel=form.cleaned_data["channel"] or Rate.Channel.SMS,
                )
        except ImportRejected as exc:
            form.add_error("file", f"Nothing was imported: {exc.message}")
        else:
            if not result.errors:
                record(request.workspace, request.user, Action.RATE_CARD_IMPORTED,
                       f"account {account.name}", file=upload.name, added=result.created,
                       changed=result.updated, removed=result.deleted)  # fmt: skip
                messages.success(request, _summary(result, upload.name))
                return done(request, "rate_list", account.pk)
    context = _page(account, import_form=form, import_result=result)
    template = "providers/rate_card.html" + ("#import" if request.htmx else "")
    return render(request, template, context, status=200 if request.htmx else 400)


def _summary(result: ImportResult, filename: str) -> str:
    text = (
        f"Imported {filename}: {result.created} new rate{pluralize(result.created)}, "
        f"{result.updated} updated"
    )
    if result.deleted:
        text += f", {result.deleted} deleted"
    return text + "."
