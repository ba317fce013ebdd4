"""Saved views' URLs (included at the root by tasks_app/urls.py)."""

from django.urls import path

from . import pages

urlpatterns = [
    path("alerts/deliveries/", pages.deliveries, name="alert_deliveries"),
    path("w/<str:workspace>/views/", pages.save, name="saved_view_save"),
    path("w/<str:workspace>/views/panel/", pages.panel, name="saved_views_panel"),
    path("w/<str:workspace>/views/<int:pk>/", pages.edit, name="saved_view"),
    path("w/<str:workspace>/views/<int:pk>/share/", pages.share, name="saved_view_share"),
    path("w/<str:workspace>/views/<int:pk>/land/", pages.land, name="saved_view_land"),
    path("w/<str:workspace>/views/<int:pk>/remove/", pages.remove, name="saved_view_remove"),
]
