"""The stock API under /api/stock/: the quarantine and receiving a delivery."""

from django.urls import path

from inventory import api, vendor_api

app_name = "stock-api"

urlpatterns = [
    path("quarantine/", api.QuarantineList.as_view(), name="quarantine"),
    path("quarantine/release/", api.QuarantineRelease.as_view(), name="quarantine-release"),
    path("quarantine/write-off/", api.QuarantineWriteOff.as_view(), name="quarantine-write-off"),
    path("receive/", api.StockReceive.as_view(), name="receive"),
]

# Vendor returns (inventory/vendor_api.py).
urlpatterns += [
    path("vendor-returns/", vendor_api.VendorReturns.as_view(), name="vendor-returns"),
    path(
        "vendor-returns/<int:pk>/credit-note/",
        vendor_api.VendorReturnCreditNote.as_view(),
        name="vendor-return-credit-note",
    ),
    path(
        "vendor-returns/<int:pk>/close/",
        vendor_api.VendorReturnClose.as_view(),
        name="vendor-return-close",
    ),
]
