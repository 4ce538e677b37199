from django.urls import path, register_converter

from catalog import product_views as views
from ims.identifiers import IdentifierConverter

register_converter(IdentifierConverter, "identifier")

app_name = "products"

urlpatterns = [
    path("", views.product_list, name="list"),
    path("new/", views.product_new, name="new"),
    path("<identifier:sku>/", views.product_view, name="detail"),
    path("<identifier:sku>/edit/", views.product_edit, name="edit"),
]
