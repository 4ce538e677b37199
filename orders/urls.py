from django.urls import path

from orders import api, pos_api, returns_api

app_name = "orders"

urlpatterns = [
    path("", api.OrderList.as_view(), name="list"),
    path("<int:pk>/", api.OrderDetail.as_view(), name="detail"),
    path("<int:pk>/dispatch/", api.OrderDispatch.as_view(), name="dispatch"),
    path("<int:pk>/delivered/", api.OrderDelivered.as_view(), name="delivered"),
    path("<int:pk>/cancel/", api.OrderCancel.as_view(), name="cancel"),
    path("<int:pk>/backorder/", api.OrderBackorder.as_view(), name="backorder"),
    path(
        "pos-sales/<int:pk>/approve/",
        api.PosSaleDecision.as_view(approve=True),
        name="pos-approve",
    ),
    path(
        "pos-sales/<int:pk>/reject/", api.PosSaleDecision.as_view(approve=False), name="pos-reject"
    ),
    path("pos-sales/", pos_api.PosSales.as_view(), name="pos-list"),
    path("pos-sales/<int:pk>/", pos_api.PosSaleDetail.as_view(), name="pos-detail"),
    path("returns/", returns_api.CustomerReturns.as_view(), name="returns"),
    path(
        "returns/<int:pk>/inspect/",
        returns_api.CustomerReturnInspect.as_view(),
        name="return-inspect",
    ),
]
