"""Membership rules, shared by the Members page and the admin.

Only an owner grants or takes away ownership; a workspace always keeps at least one owner.
Nobody is added to a workspace by someone else: an admin invites an e-mail address, and the
person who opens the e-mailed link joins by accepting it, signed in or after signing up. The
link is the permission (whoever holds it may accept it once, before it expires), so the
invitation page never says whether the address has an account. Every change is written to the
audit log.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from audit.log import record
from audit.models import Action
from workspaces.models import Invitation, Membership, Role, hash_token


class MembershipRuleError(Exception):
    """A change the rules forbid; the message says which rule and what to do instead."""


def grantable_roles(actor: Membership) -> list[str]:
    if actor.role == Role.OWNER:
        return list(Role.values)
    if actor.can(Role.ADMIN):
        return [Role.ADMIN, Role.SENDER, Role.VIEWER]
    return []


def _check_can_manage(actor: Membership, target: Membership) -> None:
    if not actor.can(Role.ADMIN):
        raise MembershipRuleError("Only owners and admins manage members.")
    if target.role == Role.OWNER and actor.role != Role.OWNER:
        raise MembershipRuleError("Only an owner can change or remove another owner.")


def _is_last_owner(target: Membership) -> bool:
    return (
        target.role == Role.OWNER
        and not Membership.objects.filter(workspace=target.workspace, role=Role.OWNER)
        .exclude(pk=target.pk)
        .exists()
    )


def change_role(actor: Membership, target: Membership, role: str) -> None:
    _check_can_manage(actor, target)
    if role not in grantable_roles(actor):
        raise MembershipRuleError(f"You cannot grant the {role} role; ask an owner.")
    if role != Role.OWNER and _is_last_owner(target):
        raise MembershipRuleError(
            "A workspace needs at least one owner: make someone else owner first."
        )
    if role == target.role:
        return
    previous, target.role = target.role, role
    with transaction.atomic():
        target.save(update_fields=["role"])
        record(
            target.workspace,
            actor.user,
            Action.MEMBER_ROLE_CHANGED,
            target=f"member {target.user.get_username()}",
            old_role=previous,
            new_role=role,
        )


def remove(actor: Membership, target: Membership) -> None:
    _check_can_manage(actor, target)
    if _is_last_owner(target):
        raise MembershipRuleError(
            "This is the workspace's only owner: make someone else owner before removing them."
        )
    with transaction.atomic():
        target.delete()
        record(
            target.workspace,
            actor.user,
            Action.MEMBER_REMOVED,
            target=f"member {target.user.get_username()}",
            role=target.role,
        )


def is_member_address(workspace, email: str) -> bool:
    """True when a member of ``workspace`` (only this one) has the address ``email``."""
    return Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists()


def invite(actor: Membership, email: str, role: str, link: Callable[[str], str]) -> Invitation:
    """Saves an invitation and e-mails ``link(token)`` to ``email``; an open invitation to the
    same address is revoked first, so only the newest link works. Raises MembershipRuleError
    for a role the actor may not grant, a current member's address, or an e-mail that could
    not be sent (nothing is saved then)."""
    if not actor.can(Role.ADMIN):
        raise MembershipRuleError("Only owners and admins invite members.")
    if role not in grantable_roles(actor):
        raise MembershipRuleError(f"You cannot grant the {role} role; ask an owner.")
    if is_member_address(actor.workspace, email):
        raise MembershipRuleError(f"{email} is already a member of this workspace.")
    with transaction.atomic():
        replaced = (
            actor.workspace.invitations.open()
            .filter(email__iexact=email)
            .update(revoked_at=timezone.now())
        )
        invitation, token = Invitation.issue(
            workspace=actor.workspace, email=email, role=role, invited_by=actor.user
        )
        record(
            actor.workspace,
            actor.user,
            Action.MEMBER_INVITED,
            target=f"invitation to {email}",
            email=email,
            role=role,
            expires_at=invitation.expires_at,
            replaces_earlier=bool(replaced),
        )
        _send(invitation, link(token))
    return invitation


def _send(invitation: Invitation, url: str) -> None:
    context = {"invitation": invitation, "url": url, "inviter": invitation.invited_by}
    subject = f"{invitation.invited_by} invited you to {invitation.workspace} on Crier"
    try:
        send_mail(
            subject,
            render_to_string("invitations/email.txt", context),
            settings.DEFAULT_FROM_EMAIL,
            [invitation.email],
        )
    except (smtplib.SMTPException, OSError) as exc:
        raise MembershipRuleError(
            f"The invitation e-mail could not be sent ({exc.__class__.__name__}), so no "
            "invitation was made. Try again later, or ask whoever runs Crier to check EMAIL_URL."
        ) from exc


def revoke(actor: Membership, invitation: Invitation) -> None:
    """Stops an open invitation's link from working."""
    if not actor.can(Role.ADMIN):
        raise MembershipRuleError("Only owners and admins manage members.")
    if invitation.role == Role.OWNER and actor.role != Role.OWNER:
        raise MembershipRuleError("Only an owner can revoke an invitation to be an owner.")
    with transaction.atomic():
        now = timezone.now()
        if not Invitation.objects.open().filter(pk=invitation.pk).update(revoked_at=now):
            raise MembershipRuleError(f"The invitation to {invitation.email} was already used.")
        record(
            actor.workspace,
            actor.user,
            Action.INVITATION_REVOKED,
            target=f"invitation to {invitation.email}",
            email=invitation.email,
            role=invitation.role,
        )


class InvitationUnusable(Exception):
    """The link does not work (any more); ``state`` says why: one of Invitation.State, or
    None for a token that was never issued."""

    def __init__(self, state: str | None):
        super().__init__(state)
        self.state = state


def invitation_for(token: str) -> Invitation:
    """The usable invitation a link's token belongs to, or InvitationUnusable."""
    invitation = (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None or invitation.state != Invitation.State.PENDING:
        raise InvitationUnusable(invitation and invitation.state)
    return invitation


def accept(invitation: Invitation, user) -> Membership:
    """Adds ``user`` to the invitation's workspace with its role and uses the invitation up.
    Raises InvitationUnusable if it was used, revoked or expired meanwhile, and
    MembershipRuleError if ``user`` is already a member (the invitation stays open)."""
    workspace = invitation.workspace
    if Membership.objects.filter(user=user, workspace=workspace).exists():
        raise MembershipRuleError(f"You are already a member of {workspace}.")
    with transaction.atomic():
        now = timezone.now()
        # One conditional update: of two people holding the link, one gets in.
        if (
            not Invitation.objects.usable()
            .filter(pk=invitation.pk)
            .update(accepted_at=now, accepted_by=user)
        ):
            invitation.refresh_from_db()
            raise InvitationUnusable(invitation.state)
        membership = Membership.objects.create(user=user, workspace=workspace, role=invitation.role)
        record(
            workspace,
            user,
            Action.INVITATION_ACCEPTED,
            target=f"member {user.get_username()}",
            email=invitation.email,
            role=invitation.role,
            invited_by=invitation.invited_by and invitation.invited_by.get_username(),
        )
    return membership
