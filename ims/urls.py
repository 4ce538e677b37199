from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from exceptions import views as exception_views

urlpatterns = [
    path("", exception_views.dashboard, name="dashboard"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("channels/", include("channels.urls")),
]
