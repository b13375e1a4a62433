from django.urls import path

from contacts.pages import book, fields, lists, segments

urlpatterns = [
    path("contacts/", book.contact_list, name="contact_list"),
    path("contacts/new/", book.contact_create, name="contact_create"),
    path("contacts/bulk/", book.contact_bulk, name="contact_bulk"),
    path("contacts/<int:contact_pk>/edit/", book.contact_edit, name="contact_edit"),
    path("contacts/lists/", lists.list_index, name="list_index"),
    path("contacts/lists/<int:list_pk>/rename/", lists.list_rename, name="list_rename"),
    path("contacts/lists/<int:list_pk>/delete/", lists.list_delete, name="list_delete"),
    path("contacts/fields/", fields.field_list, name="field_list"),
    path("contacts/fields/new/", fields.field_create, name="field_create"),
    path("contacts/fields/<int:field_pk>/edit/", fields.field_edit, name="field_edit"),
    path("contacts/fields/<int:field_pk>/delete/", fields.field_delete, name="field_delete"),
    path("contacts/segments/", segments.segment_list, name="segment_list"),
    path("contacts/segments/new/", segments.segment_create, name="segment_create"),
    path("contacts/segments/<int:segment_pk>/edit/", segments.segment_edit, name="segment_edit"),
    path(
        "contacts/segments/<int:segment_pk>/delete/",
        segments.segment_delete,
        name="segment_delete",
    ),
]
