"""The stock API under /api/stock/: the quarantine and receiving a delivery."""

from django.urls import path

from inventory import api
from inventory.api import transfers, vendor_returns

app_name = "stock-api"

urlpatterns = [
    path("quarantine/", api.QuarantineList.as_view(), name="quarantine"),
    path("quarantine/release/", api.QuarantineRelease.as_view(), name="quarantine-release"),
    path("quarantine/write-off/", api.QuarantineWriteOff.as_view(), name="quarantine-write-off"),
    path("receive/", api.StockReceive.as_view(), name="receive"),
]

# Vendor returns (inventory/vendor_returns.py).
urlpatterns += [
    path("vendor-returns/", vendor_returns.VendorReturns.as_view(), name="vendor-returns"),
    path(
        "vendor-returns/<int:pk>/credit-note/",
        vendor_returns.VendorReturnCreditNote.as_view(),
        name="vendor-return-credit-note",
    ),
    path(
        "vendor-returns/<int:pk>/close/",
        vendor_returns.VendorReturnClose.as_view(),
        name="vendor-return-close",
    ),
]

# Transfers (inventory/transfers.py).
urlpatterns += [
    path("transfers/", transfers.TransferList.as_view(), name="transfers"),
    path("transfers/send/", transfers.TransferSend.as_view(), name="transfer-send"),
    path(
        "transfers/<int:pk>/receive/",
        transfers.TransferReceive.as_view(),
        name="transfer-receive",
    ),
]
