from django.urls import path

from sla import views

app_name = "sla"

urlpatterns = [
    path("", views.dashboard, name="clocks"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("orders/<int:pk>/acknowledge/", views.order_acknowledge_view, name="order-acknowledge"),
    path("orders/<int:pk>/delivered/", views.order_delivered_view, name="order-delivered"),
    path("returns/<int:pk>/processed/", views.return_processed_view, name="return-processed"),
    path("tasks/<int:pk>/acknowledge/", views.task_acknowledge_view, name="task-acknowledge"),
    path("tasks/<int:pk>/close/", views.task_close_view, name="task-close"),
]
