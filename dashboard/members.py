"""Membership rules, shared by the Members page and the admin.

Only an owner grants or takes away ownership; a workspace always keeps at least one owner.
Every change is written to the audit log.
"""

from __future__ import annotations

from django.db import transaction

from audit.log import record
from audit.models import Action
from dashboard.models import Membership, Role


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


def added(actor: Membership, membership: Membership, created_user: bool) -> None:
    """Records a new member (MemberAddForm creates the row)."""
    record(
        membership.workspace,
        actor.user,
        Action.MEMBER_ADDED,
        target=f"member {membership.user.get_username()}",
        role=membership.role,
        new_user=created_user,
    )
