from django.urls import path

from inventory import views
from inventory.views import transfers, vendor_returns

app_name = "stock"

urlpatterns = [
    path("quarantine/", views.quarantine_list, name="quarantine"),
    path("quarantine/export.csv", views.quarantine_export, name="quarantine_export"),
    path("quarantine/release/", views.quarantine_release, name="quarantine_release"),
    path("quarantine/write-off/", views.quarantine_write_off, name="quarantine_write_off"),
    path("receive/", views.stock_receive_page, name="receive"),
]

# Vendor returns (inventory/vendor_returns.py).
urlpatterns += [
    path("vendor-returns/", vendor_returns.vendor_return_page, name="vendor_returns"),
    path(
        "vendor-returns/export.csv",
        vendor_returns.vendor_return_export,
        name="vendor_returns_export",
    ),
    path(
        "vendor-returns/<int:pk>/credit-note/",
        vendor_returns.vendor_return_credit,
        name="vendor_return_credit",
    ),
]

# Transfers (inventory/transfers.py).
urlpatterns += [
    path("transfers/", transfers.transfer_list_page, name="transfers"),
    path("transfers/export.csv", transfers.transfer_export, name="transfers_export"),
    path("transfers/send/", transfers.transfer_send_page, name="transfer_send"),
    path(
        "transfers/<int:pk>/receive/",
        transfers.transfer_receive_page,
        name="transfer_receive",
    ),
]
