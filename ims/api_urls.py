"""The REST API: one router for every app, the OpenAPI schema and its docs (self-hosted)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from catalog.api import ProductViewSet
from channels.api import ChannelListingViewSet, ChannelViewSet
from exceptions.api import OpsExceptionViewSet, ReconcileRunViewSet
from inventory.api import StockLevelViewSet

router = DefaultRouter()
router.register("products", ProductViewSet, basename="product")
router.register("stock-levels", StockLevelViewSet, basename="stocklevel")
router.register("channels", ChannelViewSet, basename="channel")
router.register("listings", ChannelListingViewSet, basename="listing")
router.register("exceptions", OpsExceptionViewSet, basename="exception")
router.register("reconcile-runs", ReconcileRunViewSet, basename="reconcilerun")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
]
