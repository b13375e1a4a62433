from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from audit.log import record
from audit.models import Action
from core import params
from core.crypto import CredentialsUnreadable
from core.web import done
from providers import services
from providers.errors import ProviderError
from providers.forms import ProviderAccountForm, SenderNameForm
from providers.models import ProviderAccount, SenderName
from workspaces.models import Role
from workspaces.tenancy import get_for_workspace, require_role, role_required


@require_safe
@role_required(Role.VIEWER)
def account_list(request):
    accounts = ProviderAccount.objects.filter(workspace=request.workspace)
    return render(request, "providers/account_list.html", {"accounts": accounts})


@require_safe
@role_required(Role.VIEWER)
def account_detail(request, account_pk: int):
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    return render(
        request,
        "providers/account_detail.html",
        {"account": account, "senders": account.senders.all()},
    )


@role_required(Role.ADMIN)
def account_add(request):
    return _account_form(request, ProviderAccount())


def account_edit(request, account_pk: int):
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    require_role(request, Role.ADMIN)
    return _account_form(request, account)


def _account_form(request, account: ProviderAccount):
    form = ProviderAccountForm(
        request.POST or None,
        instance=account,
        workspace=request.workspace,
        user=request.user,
        # A new account starts in the workspace's currency; its provider's own is set after.
        initial={"currency": request.workspace.currency}
        | ({"provider": request.GET["provider"]} if "provider" in request.GET else {}),
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            creating = account.pk is None
            account = form.save()
            _audit_account_change(request, account, form, creating)
        messages.success(request, f"Saved {account.name}.")
        return done(request, "account_detail", account.pk)
    # A change of provider re-renders only the credential fields (hx-get with the new choice).
    part = "#credentials" if request.GET.get("provider") else "#form"
    template = "providers/account_form.html" + (part if request.htmx else "")
    return render(request, template, {"form": form, "account": account})


def _audit_account_change(request, account, form, creating: bool) -> None:
    """New credentials, or a new API host (where the credentials are sent), are audited."""
    details = {"fields": form.changed_credentials}
    if "api_base_url" in form.changed_data:
        details["api_base_url"] = {
            "old": form.initial.get("api_base_url") or "",
            "new": account.api_base_url,
        }
    if creating:
        record(
            request.workspace,
            request.user,
            Action.ACCOUNT_CREATED,
            f"account {account.name}",
            provider=account.provider,
            **details,
        )
    elif form.changed_credentials or "api_base_url" in details:
        record(
            request.workspace,
            request.user,
            Action.CREDENTIALS_CHANGED,
            f"account {account.name}",
            **details,
        )


@require_POST
def account_test(request, account_pk: int):
    """Test connection: the balance and the provider's sender names, or the error in words."""
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    require_role(request, Role.ADMIN)
    context = {"account": account}
    if not account.adapter_class.capabilities.account_info:
        return render(request, "providers/account_detail.html#connection", context)
    try:
        info = services.check_connection(account)
    except (ProviderError, CredentialsUnreadable) as exc:
        context["error"] = str(exc)
    else:
        known = set(account.senders.values_list("value", "status"))
        context["info"] = info
        context["new_senders"] = [s for s in info.senders if (s.value, s.status) not in known]
    # The balance card is stale now: the fragment carries a fresh copy swapped in out of band.
    context["refresh_card"] = True
    return render(request, "providers/account_detail.html#connection", context)


@require_POST
def account_import_senders(request, account_pk: int):
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    require_role(request, Role.ADMIN)
    try:
        info = services.check_connection(account)
    except (ProviderError, CredentialsUnreadable) as exc:
        messages.error(request, f"Could not read the sender names: {exc}")
    else:
        created, updated = services.import_senders(account, info)
        messages.success(
            request, f"Imported sender names: {created} new, {updated} with a new status."
        )
    return done(request, "account_detail", account.pk)


@require_POST
def account_toggle(request, account_pk: int):
    account = get_for_workspace(request, ProviderAccount, pk=account_pk)
    require_role(request, Role.ADMIN)
    account.is_active = not account.is_active
    account.save(update_fields=["is_active"])
    state = "enabled" if account.is_active else "disabled: no campaign will use it"
    messages.success(request, f"{account.name} is {state}.")
    return done(request, "account_detail", account.pk)


@require_safe
@role_required(Role.VIEWER)
def sender_list(request):
    senders = (
        SenderName.objects.filter(account__workspace=request.workspace)
        .select_related("account")
        .order_by("account__name", "value")
    )
    accounts = ProviderAccount.objects.filter(workspace=request.workspace)
    account_id = params.whole_number(request.GET.get("account"))
    status = request.GET.get("status", "")
    if account_id:
        senders = senders.filter(account_id=account_id)
    if status in SenderName.Status.values:
        senders = senders.filter(status=status)
    context = {
        "senders": senders,
        "accounts": accounts,
        "statuses": SenderName.Status.choices,
        "selected_account": str(account_id or ""),
        "selected_status": status,
    }
    template = "providers/sender_list.html#table" if request.htmx else "providers/sender_list.html"
    return render(request, template, context)


@role_required(Role.ADMIN)
def sender_add(request):
    initial = {"account": params.whole_number(request.GET.get("account"))}
    return _sender_form(request, SenderName(), initial)


def sender_edit(request, sender_pk: int):
    sender = get_for_workspace(request, SenderName, "account__workspace", pk=sender_pk)
    require_role(request, Role.ADMIN)
    return _sender_form(request, sender, {})


def _sender_form(request, sender: SenderName, initial: dict):
    form = SenderNameForm(
        request.POST or None, instance=sender, initial=initial, workspace=request.workspace
    )
    if request.method == "POST" and form.is_valid():
        sender = form.save()
        messages.success(request, f"Saved sender name {sender.value}.")
        return done(request, "sender_list")
    template = "providers/sender_form.html" + ("#form" if request.htmx else "")
    return render(request, template, {"form": form, "sender": sender})


@require_POST
def sender_delete(request, sender_pk: int):
    sender = get_for_workspace(request, SenderName, "account__workspace", pk=sender_pk)
    require_role(request, Role.ADMIN)
    sender.delete()
    messages.success(request, f"Deleted sender name {sender.value}.")
    return done(request, "sender_list")
