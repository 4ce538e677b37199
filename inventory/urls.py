from django.urls import path

from inventory import views

app_name = "stock"

urlpatterns = [
    path("quarantine/", views.quarantine_list, name="quarantine"),
    path("quarantine/export.csv", views.quarantine_export, name="quarantine_export"),
    path("quarantine/release/", views.quarantine_release, name="quarantine_release"),
    path("quarantine/write-off/", views.quarantine_write_off, name="quarantine_write_off"),
    path("receive/", views.stock_receive_page, name="receive"),
]
