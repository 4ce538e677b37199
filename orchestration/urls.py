from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from catalog.urls import audit_patterns
from ims.audit_api import AuditEventDetail, AuditEventList
from orders import views as order_views
from reconcile import views as exception_views

admin.autodiscover()  # here rather than at start-up (ims.apps.AdminConfig)

handler404 = "ims.errors.not_found"

urlpatterns = [
    # First: the busiest URL (every order a channel sends), matched before the others are tried.
    path("webhooks/<str:code>/", order_views.webhook, name="webhook"),
    path("", exception_views.dashboard, name="dashboard"),
    path("exceptions/", include("reconcile.urls")),
    path("products/", include("catalog.product_urls")),
    path("api/", include("orchestration.api_urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("pricing/", include("catalog.urls")),
    path("audit/", include(audit_patterns)),
    path("api/audit/", AuditEventList.as_view(), name="api-audit-list"),
    path("api/audit/<int:pk>/", AuditEventDetail.as_view(), name="api-audit-detail"),
    path("api/orders/", include("orders.urls")),
    path("api/stock/", include("inventory.api_urls")),
    path("stock/", include("inventory.urls")),
    path("finance/", include("orders.finance")),
    path("sla/", include("sla.urls")),
    path("sla/", include("notifications.order_urls")),
    path("whatsapp/", include("notifications.urls")),
    path("rx/", include("notifications.rx_urls")),
    path("channels/", include("channels.urls")),
    path("notifications/", include("ims.notification_urls")),
    path("stock/pos-overrides/", include("orders.pos_urls")),
    path("stock/returns/", include("orders.returns_views")),
]
