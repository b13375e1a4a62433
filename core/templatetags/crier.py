from django import forms, template
from django.utils import timezone
from django.utils.html import format_html

from core import statuses
from core.timezones import labelled

register = template.Library()


@register.filter
def is_checkbox(bound_field) -> bool:
    return isinstance(bound_field.field.widget, forms.CheckboxInput)


@register.filter
def with_class(bound_field, css_class: str):
    """The field's widget with Bootstrap's class (form-select for selects)."""
    if isinstance(bound_field.field.widget, forms.Select) and "form-control" in css_class:
        css_class = css_class.replace("form-control", "form-select")
    attrs = {"class": css_class}
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{bound_field.auto_id}_error"
    return bound_field.as_widget(attrs=attrs)


# Badge colours: every status from core.statuses, and the words other badges show.
STATUS_BADGES = {
    **statuses.BADGE,
    "approved": "success",  # sender names
    "owner": "dark",  # roles
    "admin": "primary",
    "sender": "info",
    "viewer": "secondary",
    "uploaded": "secondary",  # imports
    "running": "primary",
    "done": "success",
}


@register.filter
def badge(value: str) -> str:
    """The Bootstrap colour for a status or role badge."""
    return STATUS_BADGES.get(str(value), "secondary")


@register.filter
def minutes(duration) -> str:
    """A timedelta in whole minutes for people: "15 minutes", "1 minute"."""
    count = max(1, round(duration.total_seconds() / 60))
    return f"{count} minute{'' if count == 1 else 's'}"


@register.filter
def zoned(value) -> str:
    """An aware datetime in the active time zone (the workspace's), labelled with it:
    "2026-12-06 13:52 (Asia/Almaty)", in a <time> element holding the instant with its offset."""
    if not value:
        return ""
    return format_html(
        '<time datetime="{}">{}</time>', timezone.localtime(value).isoformat(), labelled(value)
    )


@register.simple_tag
def zone_name() -> str:
    """The active time zone's name, to label a table or chart of times once."""
    return timezone.get_current_timezone_name()
