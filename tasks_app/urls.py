from django.urls import path

from tasks_app import metrics
from tasks_app.saved_views import pages as saved_views
from tasks_app.views import (
    audit,
    browse,
    bulk,
    health,
    route,
    row_editor,
    search,
    targets,
    task_create,
    task_detail,
)

# These URLs are a public contract: runbooks link to them (see README, "URLs").
urlpatterns = [
    path("", browse.home, name="home"),
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("audit/", audit.audit_log, name="audit"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("search/", search.search, name="search"),
    # Saved views, landing views and alerts (tasks_app/saved_views/).
    path("alerts/deliveries/", saved_views.deliveries, name="alert_deliveries"),
    path("w/<str:workspace>/views/", saved_views.save, name="saved_view_save"),
    path("w/<str:workspace>/views/panel/", saved_views.panel, name="saved_views_panel"),
    path("w/<str:workspace>/views/<int:pk>/", saved_views.edit, name="saved_view"),
    path("w/<str:workspace>/views/<int:pk>/share/", saved_views.share, name="saved_view_share"),
    path("w/<str:workspace>/views/<int:pk>/land/", saved_views.land, name="saved_view_land"),
    path("w/<str:workspace>/views/<int:pk>/remove/", saved_views.remove, name="saved_view_remove"),
    path("tasks/<str:sid>/", browse.task_redirect, name="task_redirect"),
    path("w/<str:workspace>/tasks/", browse.task_list, name="task_list"),
    path("w/<str:workspace>/targets/", targets.sla_targets, name="sla_targets"),
    path("w/<str:workspace>/tasks/new/", task_create.task_create, name="task_create"),
    path("w/<str:workspace>/tasks/bulk/", bulk.bulk_preview, name="bulk_preview"),
    path("w/<str:workspace>/tasks/bulk/<str:token>/", bulk.bulk_job, name="bulk_job"),
    path("w/<str:workspace>/tasks/bulk/<str:token>/run/", bulk.bulk_run, name="bulk_run"),
    path("w/<str:workspace>/tasks/bulk/<str:token>/undo/", bulk.bulk_undo, name="bulk_undo"),
    path("w/<str:workspace>/tasks/<str:sid>/", task_detail.task_detail, name="task_detail"),
    path("w/<str:workspace>/tasks/<str:sid>/row/", row_editor.task_row, name="task_row"),
    path(
        "w/<str:workspace>/tasks/<str:sid>/row/edit/",
        row_editor.task_row_edit,
        name="task_row_edit",
    ),
    path(
        "w/<str:workspace>/tasks/<str:sid>/route/<str:section>/",
        route.task_route,
        name="task_route",
    ),
    path(
        "w/<str:workspace>/tasks/<str:sid>/edit/<str:section>/",
        task_detail.task_section,
        name="task_section",
    ),
    path(
        "w/<str:workspace>/tasks/<str:sid>/revert/<str:token>/",
        task_detail.task_revert,
        name="task_revert",
    ),
]
