from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.db.models import Count
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from audit.log import record
from audit.models import Action
from campaigns import charts, pages
from dashboard import members as member_rules
from dashboard import overview as overview_figures
from dashboard import tenancy
from dashboard.forms import MemberAddForm, MemberRoleForm, WorkspaceForm
from dashboard.models import Membership, Role
from dashboard.tenancy import get_for_workspace, require_role, role_required
from providers.models import SenderName


def done(request, url_name: str, *args):
    """After a successful form: HTMX is told to load the page, a plain POST is redirected."""
    if request.htmx:
        return HttpResponseClientRedirect(reverse(url_name, args=args))
    return redirect(url_name, *args)


@require_safe
@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; the icon lives with the static
    files (hashed in production), so this points there."""
    return redirect(static("favicon.ico"))


@require_safe
@role_required(Role.VIEWER)
def overview(request):
    """The workspace at a glance: this month's spend, the last 30 days' messages by status,
    delivery rate per provider, what is running now and the balances. Every figure comes from
    the campaigns' counters rows, never from their messages."""
    workspace, now = request.workspace, timezone.now()
    accounts = pages.balances(workspace, now)
    senders = SenderName.objects.filter(account__workspace=workspace)
    daily = pages.daily_counts(workspace, now)
    shown = {s for _, counts in daily for s, n in counts.items() if n}
    return render(
        request,
        "overview.html",
        {
            "accounts": accounts,
            "low_balances": [row for row in accounts if row["low"]],
            "sender_counts": dict(senders.values_list("status").annotate(Count("pk")).order_by()),
            "member_count": workspace.memberships.count(),
            "spend": pages.month_spend(workspace, now),
            "spend_totals": overview_figures.month_totals(workspace, now),
            "month": now.astimezone(pages.zone_of(workspace)),
            "daily_chart": charts.daily_chart(daily),
            "legend": charts.legend(shown),
            "rates": overview_figures.provider_rates(workspace, now),
            "running": pages.running(workspace),
        },
    )


@require_POST
def switch_workspace(request):
    membership = tenancy.switch(request, request.POST.get("workspace", ""))
    messages.info(request, f"You are now working in {membership.workspace}.")
    return redirect("overview")


def workspace_create(request):
    form = WorkspaceForm(request.POST or None, like=request.workspace)
    limit = settings.CRIER_MAX_WORKSPACES_PER_USER
    owned = Membership.objects.filter(user=request.user, role=Role.OWNER).count()
    if request.method == "POST" and owned >= limit and not request.user.is_superuser:
        form.add_error(
            None,
            f"You own {owned} workspace{pluralize(owned)}, the most one person may create "
            f"here ({limit}). "
            "Delete one you no longer use, or ask an administrator to raise "
            "CRIER_MAX_WORKSPACES_PER_USER.",
        )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            workspace = form.save()
            Membership.objects.create(user=request.user, workspace=workspace, role=Role.OWNER)
        tenancy.switch(request, workspace.pk)
        messages.success(request, f"Workspace {workspace} created. Add a provider account next.")
        return done(request, "overview")
    template = "workspace_form.html#form" if request.htmx else "workspace_form.html"
    return render(request, template, {"form": form, "creating": True})


@role_required(Role.ADMIN)
def workspace_settings(request):
    form = WorkspaceForm(request.POST or None, instance=request.workspace)
    if request.method == "POST" and form.is_valid():
        changes = {
            name: {"old": form.initial.get(name), "new": form.cleaned_data[name]}
            for name in form.changed_data
            if form.initial.get(name) != form.cleaned_data[name]
        }
        with transaction.atomic():
            workspace = form.save()
            if changes:
                record(workspace, request.user, Action.WORKSPACE_CHANGED, f"workspace {workspace}",
                       **changes)  # fmt: skip
        messages.success(request, "Workspace settings saved.")
        return done(request, "workspace_settings")
    template = "workspace_form.html#form" if request.htmx else "workspace_form.html"
    return render(request, template, {"form": form, "creating": False})


@require_safe
@role_required(Role.VIEWER)
def members(request):
    memberships = request.workspace.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "members.html",
        {
            "memberships": memberships,
            "grantable": member_rules.grantable_roles(request.membership),
            "add_form": MemberAddForm(
                workspace=request.workspace,
                grantable_roles=member_rules.grantable_roles(request.membership),
            ),
        },
    )


@role_required(Role.ADMIN)
def member_add(request):
    form = MemberAddForm(
        request.POST or None,
        workspace=request.workspace,
        grantable_roles=member_rules.grantable_roles(request.membership),
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            membership = form.save()
            member_rules.added(request.membership, membership, created_user=bool(form.new_password))
        if form.new_password:
            messages.warning(
                request,
                f"Created {membership.user.username} with the password {form.new_password} — "
                "pass it on now; it will not be shown again.",
            )
        else:
            messages.success(request, f"{membership.user.username} joined as {membership.role}.")
        return done(request, "members")
    return render(request, "members.html#add-form", {"add_form": form})


@require_POST
def member_role(request, member_pk: int):
    target = get_for_workspace(request, Membership, pk=member_pk)
    require_role(request, Role.ADMIN)
    form = MemberRoleForm(request.POST, instance=Membership.objects.get(pk=target.pk))
    try:
        if not form.is_valid():
            raise member_rules.MembershipRuleError("Choose one of the listed roles.")
        member_rules.change_role(request.membership, target, form.cleaned_data["role"])
        messages.success(request, f"{target.user.username} is now {target.get_role_display()}.")
    except member_rules.MembershipRuleError as exc:
        messages.error(request, str(exc))
    return HttpResponseClientRefresh() if request.htmx else redirect("members")


@require_POST
def member_remove(request, member_pk: int):
    target = get_for_workspace(request, Membership, pk=member_pk)
    require_role(request, Role.ADMIN)
    try:
        member_rules.remove(request.membership, target)
        messages.success(request, f"{target.user.username} no longer has access.")
    except member_rules.MembershipRuleError as exc:
        messages.error(request, str(exc))
    return HttpResponseClientRefresh() if request.htmx else redirect("members")
