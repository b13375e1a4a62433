from django.urls import path

from providers import rates, views

urlpatterns = [
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/add/", views.account_add, name="account_add"),
    path("accounts/<int:account_pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:account_pk>/edit/", views.account_edit, name="account_edit"),
    path("accounts/<int:account_pk>/test/", views.account_test, name="account_test"),
    path(
        "accounts/<int:account_pk>/import-senders/",
        views.account_import_senders,
        name="account_import_senders",
    ),
    path("accounts/<int:account_pk>/toggle/", views.account_toggle, name="account_toggle"),
    path("accounts/<int:account_pk>/rates/", rates.rate_list, name="rate_list"),
    path("accounts/<int:account_pk>/rates/add/", rates.rate_add, name="rate_add"),
    path("accounts/<int:account_pk>/rates/import/", rates.rate_import, name="rate_import"),
    path("rates/<int:rate_pk>/edit/", rates.rate_edit, name="rate_edit"),
    path("rates/<int:rate_pk>/delete/", rates.rate_delete, name="rate_delete"),
    path("senders/", views.sender_list, name="sender_list"),
    path("senders/add/", views.sender_add, name="sender_add"),
    path("senders/<int:sender_pk>/edit/", views.sender_edit, name="sender_edit"),
    path("senders/<int:sender_pk>/delete/", views.sender_delete, name="sender_delete"),
]
