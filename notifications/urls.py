from django.urls import path

from notifications import views

app_name = "whatsapp"

urlpatterns = [path("webhook/", views.whatsapp_webhook, name="webhook")]
