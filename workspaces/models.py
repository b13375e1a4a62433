"""Tenancy: a workspace owns provider accounts and campaigns; members hold a role in it."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from datetime import UTC, timedelta, tzinfo

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def _validate_country(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            f"“{value}” is not a country code. Use two letters, for example KZ, BR or GB."
        )


def _validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"“{value}” is not a time zone. Use a name such as Europe/London or Asia/Almaty."
        )


class Workspace(models.Model):
    name = models.CharField(max_length=100)
    default_country = models.CharField(
        max_length=2,
        default="KZ",
        validators=[_validate_country],
        help_text="Numbers written without a country code are read as numbers of this country.",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[_validate_time_zone])
    currency = models.CharField(
        max_length=3, default="USD", help_text="Currency used to display totals."
    )
    # Members without a confirmed authenticator app are sent to set one up (workspaces.twofactor).
    require_two_factor = models.BooleanField(
        "Require two-factor login for members",
        default=False,
        help_text="Members log in with a code from an authenticator app to use this workspace.",
    )
    # The default sending window of its campaigns, read in each recipient's time zone
    # (core.windows): empty sends at any time.
    send_window = models.TextField(
        "Sending window",
        blank=True,
        db_default="",
        help_text="For example “Mon-Fri 09:00-20:00; Sat 10:00-18:00”. Empty: any time.",
    )
    holidays = models.TextField(
        blank=True,
        db_default="",
        help_text="Dates on which nothing is sent, as YYYY-MM-DD, separated by commas.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.default_country = self.default_country.upper()
        self.currency = self.currency.upper()
        super().save(*args, **kwargs)

    @property
    def zone(self) -> tzinfo:
        """The workspace's time zone, or UTC when this machine's tz database lacks the name."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return UTC


class Role(models.TextChoices):
    # Ordered from most to least powerful; Membership.can() compares positions.
    OWNER = "owner", "Owner"  # everything, including deleting the workspace
    ADMIN = "admin", "Admin"  # provider accounts, sender names, members
    SENDER = "sender", "Sender"  # compose and send campaigns
    VIEWER = "viewer", "Viewer"  # read only


_RANK = {role: rank for rank, role in enumerate(reversed(Role.values))}


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    def can(self, role: str) -> bool:
        """True when this member's role is ``role`` or a more powerful one."""
        return _RANK[self.role] >= _RANK[role]


def hash_token(token: str) -> str:
    """What an invitation keeps of its link's token: the SHA-256, so a copy of the database
    holds no working link."""
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def open(self):
        """Neither accepted nor revoked (expired ones included: they still list as such)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)

    def usable(self):
        return self.open().filter(expires_at__gt=timezone.now())


class Invitation(models.Model):
    """An e-mailed link that lets whoever holds it join a workspace with a role, once.

    The token is shown only in the e-mail; the row keeps its SHA-256. Accepting and revoking
    are conditional updates on an open row (members.py), so a link is used at most once.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"  # open and not yet expired: the link works
        EXPIRED = "expired", "Expired"  # open, but past expires_at: the link no longer works
        ACCEPTED = "accepted", "Accepted"  # used: accepted_by joined at accepted_at
        REVOKED = "revoked", "Revoked"  # an admin withdrew it, or a newer invitation replaced it

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.SENDER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A newer invitation to the same address revokes the open one first.
            models.UniqueConstraint(
                Lower("email"),
                "workspace",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invitation_per_address",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role})"

    @classmethod
    def issue(cls, **fields) -> tuple[Invitation, str]:
        """Saves a new invitation valid for CRIER_INVITATION_DAYS; returns it with its token,
        which exists nowhere else once the e-mail is sent."""
        token = secrets.token_urlsafe(32)
        expires_at = timezone.now() + timedelta(days=settings.CRIER_INVITATION_DAYS)
        invitation = cls.objects.create(
            token_hash=hash_token(token), expires_at=expires_at, **fields
        )
        return invitation, token

    @property
    def state(self) -> str:
        if self.accepted_at:
            return self.State.ACCEPTED
        if self.revoked_at:
            return self.State.REVOKED
        if self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.State.PENDING
