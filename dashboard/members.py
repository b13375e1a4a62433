"""Membership rules, shared by the Members page and the admin.

Only an owner grants or takes away ownership; a workspace always keeps at least one owner.
"""

from __future__ import annotations

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
    target.role = role
    target.save(update_fields=["role"])


def remove(actor: Membership, target: Membership) -> None:
    _check_can_manage(actor, target)
    if _is_last_owner(target):
        raise MembershipRuleError(
            "This is the workspace's only owner: make someone else owner before removing them."
        )
    target.delete()
