from django.urls import path

from campaigns.pages import views
from campaigns.sending import views as sending_views

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_pk>/imports/", views.import_create, name="import_create"),
    path("campaigns/<int:campaign_pk>/setup/", views.campaign_setup, name="campaign_setup"),
    path("campaigns/<int:campaign_pk>/message/", views.campaign_message, name="campaign_message"),
    path("campaigns/<int:campaign_pk>/count/", views.campaign_count, name="campaign_count"),
    path("campaigns/<int:campaign_pk>/replace/", views.campaign_replace, name="campaign_replace"),
    path("campaigns/<int:campaign_pk>/options/", views.campaign_options, name="campaign_options"),
    path("campaigns/<int:campaign_pk>/preview/", views.campaign_preview, name="campaign_preview"),
    path(
        "campaigns/<int:campaign_pk>/estimate/", views.campaign_estimate, name="campaign_estimate"
    ),
    path("campaigns/<int:campaign_pk>/quote/", views.campaign_quote, name="campaign_quote"),
    path("campaigns/<int:campaign_pk>/clone/", views.campaign_clone, name="campaign_clone"),
    path("campaigns/<int:campaign_pk>/delete/", views.campaign_delete, name="campaign_delete"),
    path(
        "campaigns/<int:campaign_pk>/launch/", sending_views.campaign_launch, name="campaign_launch"
    ),
    path(
        "campaigns/<int:campaign_pk>/progress/",
        sending_views.campaign_progress,
        name="campaign_progress",
    ),
    path(
        "campaigns/<int:campaign_pk>/results.csv",
        views.campaign_export,
        {"extension": "csv"},
        name="campaign_export_csv",
    ),
    path(
        "campaigns/<int:campaign_pk>/results.xlsx",
        views.campaign_export,
        {"extension": "xlsx"},
        name="campaign_export_xlsx",
    ),
    path("campaigns/<int:campaign_pk>/pause/", sending_views.campaign_pause, name="campaign_pause"),
    path(
        "campaigns/<int:campaign_pk>/resume/", sending_views.campaign_resume, name="campaign_resume"
    ),
    path("campaigns/<int:campaign_pk>/stop/", sending_views.campaign_stop, name="campaign_stop"),
    path("campaigns/<int:campaign_pk>/retry/", sending_views.campaign_retry, name="campaign_retry"),
    path("imports/<int:import_pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:import_pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:import_pk>/cancel/", views.import_cancel, name="import_cancel"),
    path(
        "imports/<int:import_pk>/rejected-rows.csv",
        views.import_rejections,
        name="import_rejections",
    ),
    path("stop-list/", views.stop_list, name="stop_list"),
    path("stop-list/upload/", views.stop_list_upload, name="stop_list_upload"),
    path("stop-list/<int:entry_pk>/remove/", views.stop_list_remove, name="stop_list_remove"),
]
