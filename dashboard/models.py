"""Tenancy: a workspace owns provider accounts and campaigns; members hold a role in it."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, tzinfo

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


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
    # Members without a confirmed authenticator app are sent to set one up (dashboard.twofactor).
    require_two_factor = models.BooleanField(
        "Require two-factor login for members",
        default=False,
        help_text="Members log in with a code from an authenticator app to use this workspace.",
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
