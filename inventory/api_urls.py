"""The stock API under /api/stock/: the quarantine and receiving a delivery."""

from django.urls import path

from inventory import api

app_name = "stock-api"

urlpatterns = [
    path("quarantine/", api.QuarantineList.as_view(), name="quarantine"),
    path("quarantine/release/", api.QuarantineRelease.as_view(), name="quarantine-release"),
    path("quarantine/write-off/", api.QuarantineWriteOff.as_view(), name="quarantine-write-off"),
    path("receive/", api.StockReceive.as_view(), name="receive"),
]
