"""/stock/pos-overrides/ (orders.pos_views): held POS sales, their CSV, the decision."""

from django.urls import path

from orders import pos_views

app_name = "pos_overrides"

urlpatterns = [
    path("", pos_views.pos_override_page, name="list"),
    path("export.csv", pos_views.pos_override_export, name="export"),
    path("<int:pk>/decide/", pos_views.pos_override_decide, name="decide"),
]
