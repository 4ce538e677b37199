"""The stock API under /api/stock/: the quarantine and receiving a delivery."""

from django.urls import path

from inventory import api, api_transfers, vendor_api

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

# Transfers (inventory/api_transfers.py).
urlpatterns += [
    path("transfers/", api_transfers.TransferList.as_view(), name="transfers"),
    path("transfers/send/", api_transfers.TransferSend.as_view(), name="transfer-send"),
    path(
        "transfers/<int:pk>/receive/",
        api_transfers.TransferReceive.as_view(),
        name="transfer-receive",
    ),
]
