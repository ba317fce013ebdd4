from django.urls import path

from tasks_app import metrics
from tasks_app.views import browse, bulk, edit, health

# These URLs are a public contract: runbooks link to them (see README, "URLs").
urlpatterns = [
    path("", browse.home, name="home"),
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("tasks/<str:sid>/", browse.task_redirect, name="task_redirect"),
    path("w/<str:workspace>/tasks/", browse.task_list, name="task_list"),
    path("w/<str:workspace>/tasks/new/", edit.task_create, name="task_create"),
    path("w/<str:workspace>/tasks/bulk/", bulk.bulk_preview, name="bulk_preview"),
    path("w/<str:workspace>/tasks/bulk/<str:token>/", bulk.bulk_job, name="bulk_job"),
    path("w/<str:workspace>/tasks/bulk/<str:token>/run/", bulk.bulk_run, name="bulk_run"),
    path("w/<str:workspace>/tasks/<str:sid>/", edit.task_page, name="task_detail"),
    path("w/<str:workspace>/tasks/<str:sid>/row/", edit.task_row, name="task_row"),
    path("w/<str:workspace>/tasks/<str:sid>/row/edit/", edit.task_row_edit, name="task_row_edit"),
    path(
        "w/<str:workspace>/tasks/<str:sid>/edit/<str:section>/",
        edit.task_edit,
        name="task_edit",
    ),
]
