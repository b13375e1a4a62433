from django.urls import path

from contacts.pages import exports, imports

urlpatterns: list = [
    path("contacts/import/", imports.contact_import_new, name="contact_import_new"),
    path(
        "contacts/import/<int:contact_import_pk>/",
        imports.contact_import_detail,
        name="contact_import_detail",
    ),
    path(
        "contacts/import/<int:contact_import_pk>/progress/",
        imports.contact_import_progress,
        name="contact_import_progress",
    ),
    path(
        "contacts/import/<int:contact_import_pk>/cancel/",
        imports.contact_import_cancel,
        name="contact_import_cancel",
    ),
    path(
        "contacts/import/<int:contact_import_pk>/rejected-rows.csv",
        imports.contact_import_rejections,
        name="contact_import_rejections",
    ),
    path("contacts/export/", exports.contact_export, name="contact_export"),
]
