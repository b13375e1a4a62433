"""The contact book: one contact per phone number per workspace, the fields a workspace
defines for them, static lists, saved segments, and opt-outs.

An opted-out contact never receives a message from its workspace: imports reject the number,
and the send engine cancels it at claim time (campaigns.sending.engine). A number opted out with
nothing else known about it is still a contact; that is what the old stop list became.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.imports import FINISHED, ImportStatus


class FieldKind(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"


class ContactField(models.Model):
    """A custom field of a workspace's contacts. ``key`` is how a message names it
    (``{city}``) and the key of the value in ``Contact.fields``."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="contact_fields"
    )
    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=FieldKind.choices, default=FieldKind.TEXT)
    choices = models.JSONField(default=list, blank=True)  # the allowed values of a choice
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "key"],
                name="contact_field_key_once",
                violation_error_message="The workspace has a field with this key already.",
            )
        ]

    def __str__(self) -> str:
        return self.label


class OptOutSource(models.TextChoices):
    MANUAL = "manual", "By a member"  # on the contact's page or the opt-out (stop list) page
    IMPORT = "import", "By an import"  # a contact-book import said so
    API = "api", "Through the API"


class Contact(models.Model):
    """A person a workspace can send to, known by their E.164 number."""

    # No database constraint: PostgreSQL checks one with a query per inserted row (about 10 s
    # of the server's CPU in a million-contact import, issue #17), as Message.campaign. The
    # import locks the workspace row as that check would (contacts.importing), the admin locks
    # it before deleting a workspace (workspaces.admin), and Django's collector still deletes a
    # workspace's contacts with it.
    workspace = models.ForeignKey(
        "dashboard.Workspace",
        on_delete=models.CASCADE,
        related_name="contacts",
        db_index=False,  # the (workspace, phone) constraint serves every lookup by workspace
        db_constraint=False,
    )
    phone = models.CharField(max_length=16)  # E.164, core.phones.normalise
    country = models.CharField(max_length=2, blank=True)  # ISO 3166 region of the number
    name = models.CharField(max_length=200, blank=True)
    fields = models.JSONField(default=dict, blank=True)  # ContactField.key -> typed value
    language = models.CharField(max_length=10, blank=True)
    # The contact's IANA zone: derived from the number where phonenumbers can tell (a single
    # zone for its prefix), else empty, meaning the workspace's; a member may override it.
    time_zone = models.CharField(max_length=64, blank=True)
    # Set: never send to this number. With when, how and why.
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opt_out_source = models.CharField(max_length=8, choices=OptOutSource.choices, blank=True)
    opt_out_note = models.CharField(max_length=255, blank=True)
    # Engagement, rolled up from the messages sent to the number (campaigns.contact_history).
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # COPYed by a big import into an empty book: the name and fields search indexes of such
    # a contact are its workspace's own, built after the import (contacts.search_indexes).
    bulk_loaded = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        ordering = ["phone"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "phone"],
                name="contact_phone_once",
                violation_error_message="The workspace has a contact with this number already.",
            )
        ]
        indexes = [
            # The opt-outs: read by every import and every claimed batch; partial, so the
            # million contacts who did not opt out cost it nothing.
            models.Index(
                fields=["workspace", "phone"],
                condition=Q(opted_out_at__isnull=False),
                name="contact_opted_out",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.phone

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None

    @property
    def zone(self) -> str:
        """The zone the contact lives in: their own, else their workspace's."""
        return self.time_zone or self.workspace.time_zone


class ContactList(models.Model):
    """A static list of contacts: members are added and removed, never computed."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="contact_lists"
    )
    name = models.CharField(max_length=200)
    contacts = models.ManyToManyField(Contact, through="ListMember", related_name="lists")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"],
                name="contact_list_name_once",
                violation_error_message="The workspace has a list with this name already.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ListMember(models.Model):
    """A contact's place in a list (not to be confused with a workspace's Membership)."""

    contact_list = models.ForeignKey(
        ContactList,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,  # the unique (list, contact) index leads with it
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="memberships")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contacts_membership"  # its name before it was ListMember
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="membership_once")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.contact_list_id}"


class Segment(models.Model):
    """Saved conditions over contacts (contacts.segments): its members are whoever matches
    them at the moment it is read."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="segments"
    )
    name = models.CharField(max_length=200)
    # {"match": "all" | "any", "rules": [{"field": ..., "op": ..., "value": ...}, ...]}
    conditions = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"],
                name="segment_name_once",
                violation_error_message="The workspace has a segment with this name already.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class UpsertMode(models.TextChoices):
    UPDATE = "update", "Update: a non-empty cell replaces the contact's value"
    FILL_BLANKS = "fill_blanks", "Only fill blanks: keep every value a contact already has"


class ListAction(models.TextChoices):
    NONE = "none", "Do not add them to a list"
    ADD = "add", "Add them to a list"
    REPLACE = "replace", "Replace a list's members with them"


# What a column of a contact import becomes (ContactImport.mapping). A custom field is
# "field:<key>" (an existing ContactField) or "new:<key>" (created by the import, as
# ContactImport.new_fields describes it).
MAPPING_TARGETS = {
    "phone": "Phone number",
    "name": "Name",
    "language": "Language",
    "time_zone": "Time zone",
    "opted_out": "Opted out (yes/no)",
    "ignore": "Do not import",
}


class ContactImport(models.Model):
    """One upload or paste into a workspace's contact book, with what happened to every row
    (contacts.importing)."""

    workspace = models.ForeignKey(
        "dashboard.Workspace", on_delete=models.CASCADE, related_name="contact_imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)  # empty for pasted text
    file = models.FileField(upload_to="contact-imports/%Y/%m/", blank=True)
    pasted_text = models.TextField(blank=True)
    # Reader options the user chose (encoding, delimiter, quotechar, has_header, sheet).
    options = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=list, blank=True)  # the first rows as the user sees them
    phone_column = models.PositiveSmallIntegerField(null=True, blank=True)
    # One target a column (MAPPING_TARGETS, "field:<key>" or "new:<key>").
    mapping = models.JSONField(default=list, blank=True)
    # The fields the import creates: {key: {"label": ..., "kind": ...}}.
    new_fields = models.JSONField(default=dict, blank=True)
    upsert = models.CharField(max_length=12, choices=UpsertMode.choices, default=UpsertMode.UPDATE)
    list_action = models.CharField(
        max_length=8, choices=ListAction.choices, default=ListAction.NONE
    )
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    new_list_name = models.CharField(max_length=200, blank=True)  # a list the import creates
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # an estimate while running
    accepted = models.PositiveIntegerField(default=0)  # rows checked and stored
    rejected = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)  # contacts the import created
    updated = models.PositiveIntegerField(default=0)  # contacts it changed
    unchanged = models.PositiveIntegerField(default=0)  # contacts it found as they were
    # {"by_reason": {code: n}, "by_country": {"KZ": n}}
    summary = models.JSONField(default=dict, blank=True)
    rejections_file = models.FileField(upload_to="contact-rejections/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The running worker's last sign of life; a running import silent for long is failed by
    # contacts.importing.fail_abandoned.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename or "Pasted contacts"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def seconds_left(self, now) -> int | None:
        """An estimate from the pace so far; None until there is a pace to go by."""
        if not (self.started_at and self.rows_total and self.rows_done):
            return None
        elapsed = (now - self.started_at).total_seconds()
        return round(elapsed / self.rows_done * max(self.rows_total - self.rows_done, 0))
