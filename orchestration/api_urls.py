"""The REST API: one router for every app, the OpenAPI schema and its docs (self-hosted)."""

from django.conf import settings
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from catalog.api import ProductViewSet
from channels.api import ChannelListingViewSet, ChannelViewSet
from channels.assortment_api import ChannelAssortment
from channels.publish_api import ChannelPublish
from inventory.api import StockLevelViewSet
from reconcile.api import OpsExceptionViewSet, ReconcileRunViewSet

router = DefaultRouter()
router.register("products", ProductViewSet, basename="product")
router.register("stock-levels", StockLevelViewSet, basename="stocklevel")
router.register("channels", ChannelViewSet, basename="channel")
router.register("listings", ChannelListingViewSet, basename="listing")
router.register("exceptions", OpsExceptionViewSet, basename="exception")
router.register("reconcile-runs", ReconcileRunViewSet, basename="reconcilerun")

# ReDoc styles itself with <style> elements it writes at run time (styled-components), which
# carry no nonce, and searches in a worker made from a blob: URL; its page alone allows
# these. Its scripts stay as strict as elsewhere.
redoc_csp = csp_override(
    {
        **settings.SECURE_CSP,
        "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
        "worker-src": [CSP.SELF, "blob:"],  # its search index runs in a worker it makes
    }
)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "redoc/",
        redoc_csp(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
    # What each channel offers (channels/assortment.py), beside the router's channel routes.
    path(
        "channels/<slug:code>/assortment/",
        ChannelAssortment.as_view(),
        name="channel-assortment",
    ),
    # Listings created from IMS (channels/publish.py): POST publishes, GET lists publications.
    path("channels/<slug:code>/publish/", ChannelPublish.as_view(), name="channel-publish"),
    path("", include(router.urls)),
]
