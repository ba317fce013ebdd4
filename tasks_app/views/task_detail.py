"""The task page: every field, and one small form per part of the task.

Each part is a `SectionForm`; `editing.run_edit` runs the edit flow for any of them and
this module only chooses what to show: the section alone for htmx (with the read-only
parts and the page's other sections brought up to date), or the whole page without it.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from tasks_app import editing, presentation
from tasks_app.forms import SECTION_FORMS, TASK_PAGE_SECTIONS, SectionForm
from tasks_app.identity import actor_of, identity_of, require_role, role_refusal
from tasks_app.index.holders import holders_of, reservations_of
from tasks_app.models import AuditRecord
from tasks_app.taskrouter import service as taskrouter
from tasks_app.timeline import page as timeline_page
from tasks_app.timeline import undo
from tasks_app.views import audit as audit_views
from tasks_app.views.common import edit_from_request, fragment_response, with_workspace


def _facts(request: HttpRequest, workspace: taskrouter.Workspace, task: taskrouter.Task) -> dict:
    """The read-only parts of the page, its timeline included."""
    list_url = reverse("task_list", args=[workspace.url_name])
    identity = identity_of(request)
    return {
        "task": task,
        **timeline_page.context(
            task.sid,
            viewer=actor_of(request),
            can_edit=identity is not None and identity.can_edit,
        ),
        # Who holds it and who it was offered to: from the index, not TaskRouter.
        "holder": holders_of([task.sid]).get(task.sid)
        if task.assignment_status in ("reserved", "assigned", "wrapping")
        else None,
        "reservations": reservations_of(task.sid),
        "attributes_pretty": presentation.attributes_block(task),
        "time_in_status": presentation.time_in_status(task, timezone.now()),
        "addons_pretty": presentation.pretty_json(task.addons) if task.addons else "",
        "queue_url": f"{list_url}?queue={task.task_queue_sid}" if task.task_queue_sid else None,
        "workflow_url": f"{list_url}?workflow={task.workflow_sid}" if task.workflow_sid else None,
    }


def _page(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    task: taskrouter.Task,
    *,
    replacing: editing.EditResult | None = None,
    status: int = 200,
    extra: dict | None = None,
) -> HttpResponse:
    """The whole page, one section optionally in the state an edit left it in. Only the
    forms the person's role may use are drawn (the views refuse the rest anyway)."""
    owner = actor_of(request)
    sections = [
        replacing
        if replacing is not None and replacing.form.section == form.section
        else editing.show(form, task, owner=owner)
        for form in _sections_for(request)
    ]
    context = {"workspace": workspace, "sections": sections, **_facts(request, workspace, task)}
    if extra:
        context |= extra
    return render(request, "tasks/task_detail.html", context, status=status)


@require_safe
@with_workspace
def task_detail(request: HttpRequest, workspace: taskrouter.Workspace, sid: str) -> HttpResponse:
    try:
        task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
    except taskrouter.NotFound:
        # Deleted (or purged after it closed): its page from Taskdeck's memory, read-only.
        gone = audit_views.task_gone(request, sid)
        if gone is None:
            raise
        return gone
    response = _page(request, workspace, task)
    response["Taskdeck-Fragment"] = "1"
    return response


def _sections_for(request: HttpRequest) -> list[type[SectionForm]]:
    identity = identity_of(request)
    if identity is None or not identity.can_edit:
        return []
    return [f for f in TASK_PAGE_SECTIONS if f.section != "delete" or identity.can_delete]


def _section_form(section: str) -> type[SectionForm]:
    form = SECTION_FORMS.get(section)
    if form is None:
        raise Http404("No such part of the task page.")
    return form


@require_http_methods(["GET", "POST"])
@require_role("editor")
@with_workspace
def task_section(
    request: HttpRequest, workspace: taskrouter.Workspace, sid: str, section: str
) -> HttpResponse:
    """GET: the section afresh (how "discard my change" works). POST: save it."""
    form = _section_form(section)
    if form.section == "delete" and (refusal := role_refusal(request, "admin")):
        return refusal
    if request.method == "GET":
        task = taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
        return _section_response(
            request, workspace, editing.show(form, task, owner=actor_of(request))
        )
    result = edit_from_request(form, request, workspace, sid)
    if result.kind == "saved" and (result.deleted or not request.htmx):
        return _after_save(request, workspace, result)
    return _section_response(request, workspace, result)


def _after_save(
    request: HttpRequest, workspace: taskrouter.Workspace, result: editing.EditResult
) -> HttpResponse:
    """Without JavaScript, and after a delete: a message and a new page."""
    for line in (*result.done, *result.notes):
        messages.success(request, line)
    if result.deleted:
        target = reverse("task_list", args=[workspace.url_name])
    else:
        target = reverse("task_detail", args=[workspace.url_name, result.editor.task_sid])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


def _announcement(result: editing.EditResult) -> str:
    if result.kind in ("conflict", "expired"):
        return "The task changed since you opened it. Review and apply again."
    return " ".join((*result.done, *result.notes))


def _section_response(
    request: HttpRequest, workspace: taskrouter.Workspace, result: editing.EditResult
) -> HttpResponse:
    """One section for htmx, with what its outcome changed elsewhere on the page; the
    whole page otherwise."""
    if not request.htmx:
        return _full_page(request, workspace, result)
    context: dict = {"workspace": workspace, "section": result, "announce": _announcement(result)}
    task = result.task if result.kind in ("saved", "conflict", "expired", "shown") else None
    if task is not None:
        context |= _facts(request, workspace, task) | {"refresh_task": True}
    if result.kind == "saved" and task is not None:
        context |= _siblings_after(request, task, result)
        # Undo is offered where the person just saved, not also atop the timeline.
        context |= {
            "section_undo": context.get("undo_offer"),
            "section_undo_for": result.form.section,
            "undo_offer": None,
        }
    return fragment_response(
        request, "tasks/task_detail.html#section-response", context, status=result.http_status
    )


def _siblings_after(
    request: HttpRequest, task: taskrouter.Task, result: editing.EditResult
) -> dict:
    """After a save, the page's other sections: when the status moved, what TaskRouter
    allows changed, so they are drawn afresh; otherwise only their versions move on
    (what the person may have typed into them stays)."""
    if "assignment_status" in result.written:
        owner = actor_of(request)
        others = [f for f in _sections_for(request) if f.section != result.form.section]
        return {"redrawn_sections": [editing.show(form, task, owner=owner) for form in others]}
    return {"advanced_editors": result.siblings}


def _full_page(
    request: HttpRequest, workspace: taskrouter.Workspace, result: editing.EditResult
) -> HttpResponse:
    task = result.task
    if task is None:
        try:
            task = taskrouter.fetch_task(
                workspace_sid=workspace.sid, task_sid=result.editor.task_sid
            )
        except taskrouter.TaskRouterError as error:
            # TaskRouter is down: the form alone, with what was typed and why it failed.
            result.error = result.error or error
            context = {"workspace": workspace, "section": result}
            return render(
                request, "tasks/task_section_page.html", context, status=error.page_status
            )
    return _page(request, workspace, task, replacing=result, status=result.http_status)


@require_POST
@require_role("editor")
@with_workspace
def task_revert(
    request: HttpRequest, workspace: taskrouter.Workspace, sid: str, token: str
) -> HttpResponse:
    """Undo (or revert from the timeline) one of Taskdeck's own changes of the task: the
    values from before, at the version the change produced; a conflict when anyone
    changed the task since (shown with who did), never an overwrite. ``token`` names the
    change: its audit record's write id."""
    record = AuditRecord.objects.filter(
        write_id=token[:32], task_sid=sid, workspace_sid=workspace.sid
    ).first()
    if record is None:
        raise Http404("Taskdeck made no such change to this task.")
    result = undo.revert(record, actor=actor_of(request))
    target = reverse("task_detail", args=[workspace.url_name, sid])
    if result.kind == "done":
        messages.success(request, result.message)
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    task = result.task or taskrouter.fetch_task(workspace_sid=workspace.sid, task_sid=sid)
    extra = {"revert_result": result, "revert_record": record}
    return _page(request, workspace, task, status=result.http_status, extra=extra)
