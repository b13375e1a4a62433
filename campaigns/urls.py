from django.urls import path

from campaigns.pages import (
    campaigns,
    compose,
    contact,
    imports,
    sending,
    stop_list,
    templates,
    windows,
)

urlpatterns = [
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_pk>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_pk>/imports/", imports.import_create, name="import_create"),
    path("campaigns/<int:campaign_pk>/setup/", compose.campaign_setup, name="campaign_setup"),
    path("campaigns/<int:campaign_pk>/message/", compose.campaign_message, name="campaign_message"),
    path("campaigns/<int:campaign_pk>/count/", compose.campaign_count, name="campaign_count"),
    path(
        "campaigns/<int:campaign_pk>/audience/", compose.campaign_audience, name="campaign_audience"
    ),
    path("campaigns/<int:campaign_pk>/replace/", compose.campaign_replace, name="campaign_replace"),
    path("campaigns/<int:campaign_pk>/options/", compose.campaign_options, name="campaign_options"),
    path("campaigns/<int:campaign_pk>/preview/", compose.campaign_preview, name="campaign_preview"),
    path("campaigns/<int:campaign_pk>/plan/", windows.campaign_plan, name="campaign_plan"),
    path(
        "campaigns/<int:campaign_pk>/estimate/", compose.campaign_estimate, name="campaign_estimate"
    ),
    path("campaigns/<int:campaign_pk>/quote/", compose.campaign_quote, name="campaign_quote"),
    path(
        "campaigns/<int:campaign_pk>/template/choices/",
        templates.campaign_template_choices,
        name="campaign_template_choices",
    ),
    path(
        "campaigns/<int:campaign_pk>/template/use/",
        templates.campaign_template_use,
        name="campaign_template_use",
    ),
    path(
        "campaigns/<int:campaign_pk>/template/save/",
        templates.campaign_template_save,
        name="campaign_template_save",
    ),
    path("campaigns/<int:campaign_pk>/clone/", campaigns.campaign_clone, name="campaign_clone"),
    path("campaigns/<int:campaign_pk>/delete/", campaigns.campaign_delete, name="campaign_delete"),
    path("campaigns/<int:campaign_pk>/launch/", sending.campaign_launch, name="campaign_launch"),
    path(
        "campaigns/<int:campaign_pk>/progress/",
        sending.campaign_progress,
        name="campaign_progress",
    ),
    path(
        "campaigns/<int:campaign_pk>/results.csv",
        campaigns.campaign_export,
        {"extension": "csv"},
        name="campaign_export_csv",
    ),
    path(
        "campaigns/<int:campaign_pk>/results.xlsx",
        campaigns.campaign_export,
        {"extension": "xlsx"},
        name="campaign_export_xlsx",
    ),
    path("campaigns/<int:campaign_pk>/pause/", sending.campaign_pause, name="campaign_pause"),
    path("campaigns/<int:campaign_pk>/resume/", sending.campaign_resume, name="campaign_resume"),
    path("campaigns/<int:campaign_pk>/stop/", sending.campaign_stop, name="campaign_stop"),
    path("campaigns/<int:campaign_pk>/retry/", sending.campaign_retry, name="campaign_retry"),
    path("imports/<int:import_pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:import_pk>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:import_pk>/cancel/", imports.import_cancel, name="import_cancel"),
    path(
        "imports/<int:import_pk>/rejected-rows.csv",
        imports.import_rejections,
        name="import_rejections",
    ),
    path("contacts/<int:contact_pk>/", contact.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_pk>/opt-out/", contact.contact_opt_out, name="contact_opt_out"),
    path("contacts/<int:contact_pk>/opt-in/", contact.contact_opt_in, name="contact_opt_in"),
    path("contacts/<int:contact_pk>/lists/", contact.contact_lists, name="contact_lists"),
    path("contacts/<int:contact_pk>/export/", contact.contact_export, name="contact_export"),
    path("contacts/<int:contact_pk>/erase/", contact.contact_erase, name="contact_erase"),
    path("stop-list/", stop_list.stop_list, name="stop_list"),
    path("stop-list/upload/", stop_list.stop_list_upload, name="stop_list_upload"),
    path("stop-list/<int:entry_pk>/remove/", stop_list.stop_list_remove, name="stop_list_remove"),
    path("templates/", templates.template_list, name="template_list"),
    path("templates/new/", templates.template_create, name="template_create"),
    path("templates/check/", templates.template_check, name="template_check"),
    path("templates/<int:template_pk>/edit/", templates.template_edit, name="template_edit"),
    path("templates/<int:template_pk>/delete/", templates.template_delete, name="template_delete"),
]
