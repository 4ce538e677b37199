from django.urls import path

from reconcile import views

app_name = "exceptions"

urlpatterns = [
    path("", views.exception_list, name="list"),
    path("counts/", views.exception_counts, name="counts"),
    path("export.csv", views.exception_export, name="export"),
    path("acknowledge/", views.exception_acknowledge, name="acknowledge"),
    path("push/", views.exception_push, name="push"),
    path("publish/", views.exception_publish, name="publish"),
]
