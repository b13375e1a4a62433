"""Template tags that name the registered providers, so no template lists them by hand."""

from django import template

from providers import registry

register = template.Library()


@register.simple_tag
def provider_names() -> str:
    """The providers' labels as prose: "BSG, Mobizon, smsdrop or Conpeek"."""
    *others, last = [label for _slug, label in registry.choices()]
    return f"{', '.join(others)} or {last}" if others else last
