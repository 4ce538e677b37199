from django.urls import path

from channels import assortment_views, publish_views, views

app_name = "channels"

urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/approve/", views.run_approve, name="run_approve"),
    path("runs/<int:pk>/discard/", views.run_discard, name="run_discard"),
    path("<slug:code>/sync/", views.channel_sync_now, name="sync_now"),
]

# What each channel offers (channels/assortment.py).
urlpatterns += [
    path("<slug:code>/assortment/", assortment_views.assortment_page, name="assortment"),
    path(
        "<slug:code>/assortment/export.csv",
        assortment_views.assortment_export,
        name="assortment_export",
    ),
]

# Listings created from IMS (channels/publish.py).
urlpatterns += [
    path("publish/", publish_views.publish_page, name="publish"),
    path("<slug:code>/publish/", publish_views.publish_post, name="publish_channel"),
]
