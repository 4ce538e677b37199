"""Staff actions on an order's customer messages, under /sla/orders/<pk>/ beside the SLA
order page that shows the buttons (the root URLconf includes both at sla/)."""

from django.urls import path

from notifications import views

app_name = "order_messages"

urlpatterns = [
    path("orders/<int:pk>/prescriptions/", views.prescription_upload_view, name="prescription"),
    path("orders/<int:pk>/payment-link/", views.payment_link_view, name="payment-link"),
]
