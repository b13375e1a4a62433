from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    # The label the app was born with: its tables (dashboard_workspace, ...), its migration
    # history and its content types keep that name, so moving the code renamed nothing stored.
    label = "dashboard"
    verbose_name = "Workspaces"
