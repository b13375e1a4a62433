from django.forms.renderers import TemplatesSetting


class BootstrapFormRenderer(TemplatesSetting):
    """Renders ``{{ field.as_field_group }}`` as a Bootstrap field with its error inline."""

    field_template_name = "includes/field.html"
