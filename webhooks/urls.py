from django.urls import path

from webhooks import views

urlpatterns = [
    path("webhooks/", views.endpoint_list, name="endpoint_list"),
    path("webhooks/add/", views.endpoint_add, name="endpoint_add"),
    path("webhooks/<int:endpoint_pk>/", views.endpoint_detail, name="endpoint_detail"),
    path("webhooks/<int:endpoint_pk>/edit/", views.endpoint_edit, name="endpoint_edit"),
    path("webhooks/<int:endpoint_pk>/rotate/", views.endpoint_rotate, name="endpoint_rotate"),
    path("webhooks/<int:endpoint_pk>/test/", views.endpoint_test, name="endpoint_test"),
    path("webhooks/<int:endpoint_pk>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path(
        "webhooks/deliveries/<int:delivery_pk>/replay/",
        views.delivery_replay,
        name="delivery_replay",
    ),
]
