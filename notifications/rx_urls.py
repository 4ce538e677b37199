"""The customer's prescription pages (no IMS log-in: the one-time password is the key)."""

from django.urls import path

from notifications import views

app_name = "rx"

urlpatterns = [
    path("", views.prescription_request, name="request"),
    path("verify/", views.prescription_verify, name="verify"),
    path("<str:token>/<int:pk>/", views.prescription_file, name="file"),
]
