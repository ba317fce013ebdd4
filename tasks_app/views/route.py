"""Where a change will send a task, while the person edits: the task page's attributes and
"send to a queue" forms and the row editor post themselves here (htmx, debounced) and get
back the route panel. Nothing is written; the workflow and queue names come from the
shared directory lists, so a keystroke costs TaskRouter nothing."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from tasks_app import editing
from tasks_app.forms import AttributesEditForm, RowEditForm, SectionForm, SendToQueueForm
from tasks_app.identity import actor_of, require_role
from tasks_app.taskrouter import service as taskrouter
from tasks_app.views.common import fragment_response, with_workspace

ROUTE_FORMS: dict[str, type[SectionForm]] = {
    form.section: form for form in (AttributesEditForm, SendToQueueForm, RowEditForm)
}


@require_POST
@require_role("editor")
@with_workspace
def task_route(
    request: HttpRequest, workspace: taskrouter.Workspace, sid: str, section: str
) -> HttpResponse:
    form_class = ROUTE_FORMS.get(section)
    if form_class is None:
        raise Http404("That form does not route the task.")
    owner = actor_of(request)
    editors = (
        editing.read_editor(token, owner=owner, task_sid=sid, form=section)
        for token in editing.tokens_in(request.POST)
    )
    editor = next((e for e in editors if e is not None and e.form == section), None)
    if editor is None:  # expired or not this person's: the task as it is now
        task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
        editor = editing.open_editor(task, form=section, owner=owner)
    form = form_class(request.POST, editor=editor)
    return fragment_response(request, "tasks/_route.html", {"route": form.route_view()})
