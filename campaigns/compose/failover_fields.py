"""Compose step 4's failover fields (campaigns.sending.failover): a backup account of the same
workspace that sends the campaign's channel, a sender name it has approved, and a rule that
can trip. Mixed into OptionsForm, whose Meta lists FAILOVER_FIELDS."""

from __future__ import annotations

from django import forms

from campaigns.models import Channel
from providers.models import ProviderAccount, SenderName

FAILOVER_FIELDS = [
    "backup_account",
    "backup_sender",
    "failover_errors",
    "failover_minutes",
    "failover_on_account_error",
]
FAILOVER_LABELS = {
    "backup_account": "Backup account",
    "backup_sender": "Backup sender name",
    "failover_errors": "After this many temporary errors in a row",
    "failover_minutes": "Or after failing for (minutes)",
    "failover_on_account_error": "Or at once when out of balance or credentials refused",
}
FAILOVER_HELP = {
    "backup_sender": "Empty: the campaign's sender name.",
    "failover_errors": "0: not counted.",
    "failover_minutes": "0: not timed.",
}
MAX_FAILOVER_MINUTES = 1440


class FailoverFields:
    """The checks of the failover fields of a campaign's ModelForm."""

    def offer_backups(self, workspace) -> None:
        """The workspace's active accounts but the campaign's own; an empty number keeps
        the rule's value as it was."""
        backups = ProviderAccount.objects.filter(workspace=workspace, is_active=True)
        self.fields["backup_account"].queryset = backups.exclude(pk=self.instance.account_id)
        self.fields["backup_account"].empty_label = "None: no failover"
        for name in ("failover_errors", "failover_minutes"):
            self.fields[name].required = False
        self.fields["failover_minutes"].widget.attrs["max"] = MAX_FAILOVER_MINUTES

    def clean_backup_account(self):
        backup = self.cleaned_data["backup_account"]
        channel = self.instance.channel
        if backup and channel not in backup.adapter_class.capabilities.channels:
            raise forms.ValidationError(
                f"{backup.name} ({backup.get_provider_display()}) cannot send "
                f"{Channel(channel).label}: choose an account that can."
            )
        return backup

    def clean_failover_errors(self):
        errors = self.cleaned_data["failover_errors"]
        return self.instance.failover_errors if errors is None else errors

    def clean_failover_minutes(self):
        minutes = self.cleaned_data["failover_minutes"]
        if minutes is None:
            return self.instance.failover_minutes
        if minutes > MAX_FAILOVER_MINUTES:
            raise forms.ValidationError(f"At most {MAX_FAILOVER_MINUTES} minutes (a day).")
        return minutes

    def _clean_failover(self, data) -> None:
        """The backup's sender name must be one it may send under, and the rule must be able
        to trip."""
        backup = data.get("backup_account")
        sender = (data.get("backup_sender") or "").strip()
        data["backup_sender"] = sender
        if backup is None:
            if sender:
                self.add_error("backup_sender", "Choose a backup account for this sender name.")
            return
        if self.instance.channel == Channel.SMS:
            name = sender or self.instance.sender
            approved = backup.senders.filter(value=name, status=SenderName.Status.APPROVED)
            if name and not approved.exists():
                self.add_error(
                    "backup_sender",
                    f"“{name}” is not an approved sender name of {backup.name}: "
                    "give one it has approved.",
                )
            elif not name and backup.adapter_class.capabilities.sms_sender_required:
                self.add_error(
                    "backup_sender", f"{backup.name} needs a sender name: give one it approved."
                )
        rule = [data.get("failover_errors"), data.get("failover_minutes")]
        if not any(rule) and not data.get("failover_on_account_error"):
            self.add_error(
                "failover_errors",
                "With every condition off, the campaign would never fail over: set a number of "
                "errors, minutes, or tick the account errors.",
            )
