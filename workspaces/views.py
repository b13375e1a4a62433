from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRefresh

from audit.log import record
from audit.models import Action
from core.web import done
from workspaces import members as member_rules
from workspaces import tenancy
from workspaces.forms import InvitationForm, MemberRoleForm, SignUpForm, WorkspaceForm
from workspaces.models import Invitation, Membership, Role
from workspaces.tenancy import get_for_workspace, require_role, role_required


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


def _invitation_form(request, data=None) -> InvitationForm:
    return InvitationForm(
        data,
        workspace=request.workspace,
        grantable_roles=member_rules.grantable_roles(request.membership),
    )


def _members_page(request, invite_form: InvitationForm):
    memberships = request.workspace.memberships.select_related("user").order_by("user__username")
    invitations = request.workspace.invitations.open().select_related("invited_by")
    context = {
        "memberships": memberships,
        "grantable": member_rules.grantable_roles(request.membership),
        "invite_form": invite_form,
        "invitations": invitations if request.membership.can(Role.ADMIN) else [],
    }
    return render(request, "members.html", context)


@require_safe
@role_required(Role.VIEWER)
def members(request):
    return _members_page(request, _invitation_form(request))


@role_required(Role.ADMIN)
def member_invite(request):
    """E-mails an invitation; the page reads the same whether the address has an account."""
    form = _invitation_form(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            member_rules.invite(
                request.membership,
                email,
                form.cleaned_data["role"],
                link=lambda token: request.build_absolute_uri(reverse("invitation", args=[token])),
            )
        except member_rules.MembershipRuleError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Invitation sent to {email}.")
            return done(request, "members")
    if request.htmx:
        return render(request, "members.html#invite-form", {"invite_form": form})
    return _members_page(request, form)


@require_POST
def member_invitation_revoke(request, invitation_pk: int):
    invitation = get_for_workspace(request, Invitation, pk=invitation_pk)
    require_role(request, Role.ADMIN)
    return _apply_rule(
        request,
        lambda: member_rules.revoke(request.membership, invitation),
        f"The invitation to {invitation.email} no longer works.",
    )


def _apply_rule(request, change, success: str):
    """Runs a membership rule's change; a refusal is shown in place of the success message."""
    try:
        change()
        messages.success(request, success)
    except member_rules.MembershipRuleError as exc:
        messages.error(request, str(exc))
    return HttpResponseClientRefresh() if request.htmx else redirect("members")


def _unusable(request, exc: member_rules.InvitationUnusable):
    status = 404 if exc.state is None else 410
    return render(request, "invitations/unusable.html", {"state": exc.state}, status=status)


def _joined(request, membership: Membership):
    tenancy.switch(request, membership.workspace_id)
    messages.success(
        request, f"You joined {membership.workspace} as {membership.get_role_display()}."
    )
    return redirect("overview")


@never_cache
@login_not_required
def invitation(request, token: str):
    """An invitation's link: signed in, the user joins by accepting it (a POST, so a mail
    scanner that opens links uses nothing up); signed out, they sign in or sign up."""
    try:
        invitation = member_rules.invitation_for(token)
    except member_rules.InvitationUnusable as exc:
        return _unusable(request, exc)
    member = (
        request.user.is_authenticated
        and Membership.objects.filter(user=request.user, workspace=invitation.workspace).first()
    )
    if request.method == "POST" and request.user.is_authenticated:
        try:
            return _joined(request, member_rules.accept(invitation, request.user))
        except member_rules.InvitationUnusable as exc:
            return _unusable(request, exc)
        except member_rules.MembershipRuleError:
            pass  # already a member: the page says so
    context = {"invitation": invitation, "token": token, "member": member}
    return render(request, "invitations/invitation.html", context)


@never_cache
@sensitive_post_parameters("password1", "password2")
@login_not_required
def invitation_sign_up(request, token: str):
    """Creates an account from an invitation's link and joins with it, in one step."""
    try:
        invitation = member_rules.invitation_for(token)
    except member_rules.InvitationUnusable as exc:
        return _unusable(request, exc)
    if request.user.is_authenticated:
        return redirect("invitation", token)
    form = SignUpForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
                membership = member_rules.accept(invitation, user)
        except member_rules.InvitationUnusable as exc:
            return _unusable(request, exc)
        login(request, user, backend="workspaces.tenancy.MemberBackend")
        return _joined(request, membership)
    context = {"invitation": invitation, "token": token, "form": form}
    return render(request, "invitations/sign_up.html", context)


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
    return _apply_rule(
        request,
        lambda: member_rules.remove(request.membership, target),
        f"{target.user.username} no longer has access.",
    )
