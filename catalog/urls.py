from django.urls import path

from catalog import views

app_name = "pricing"

urlpatterns = [
    path("change/", views.price_change_page, name="change"),
    path("rules/", views.price_rules_page, name="rules"),
    path("governance/", views.governance_page, name="governance"),
    path(
        "approvals/<int:pk>/approve/",
        views.approval_decide,
        {"decision": "approve"},
        name="approve",
    ),
    path(
        "approvals/<int:pk>/reject/", views.approval_decide, {"decision": "reject"}, name="reject"
    ),
]

audit_patterns = (
    [
        path("", views.audit_page, name="list"),
        path("export.csv", views.audit_export, name="export"),
        path("object/<str:object_type>/<str:object_id>/", views.audit_page, name="object"),
    ],
    "audit",
)
