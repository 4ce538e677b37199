from django.urls import path

from catalog import product_views as views

app_name = "products"

urlpatterns = [
    path("", views.product_list, name="list"),
    path("new/", views.product_new, name="new"),
    path("<str:sku>/", views.product_view, name="detail"),
    path("<str:sku>/edit/", views.product_edit, name="edit"),
]
