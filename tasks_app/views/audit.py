"""The audit trail: /audit/ (admins: everyone's writes; editors: their own), as a page or
as CSV, and the history of a task TaskRouter no longer has."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tasks_app import audit, presentation, titles
from tasks_app.identity import identity_of, require_role
from tasks_app.index.models import IndexedTask
from tasks_app.timeline import page as timeline_page

PAGE_SIZE = 50


@require_safe
@require_role("editor")
def audit_log(request: HttpRequest) -> HttpResponse:
    identity = identity_of(request)
    form = audit.AuditFilterForm(request.GET or None)
    records = audit.visible_to(identity)
    status = 200
    if form.is_bound and not form.is_valid():
        records, status = records.none(), 400
    elif form.is_bound:
        records = form.apply(records)
    if request.GET.get("format") == "csv" and status == 200:
        response = StreamingHttpResponse(
            audit.csv_lines(records.iterator()), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="taskdeck-audit.csv"'
        return response
    names = audit.workspace_names()  # the menu's and the rows' (a shared, cached read)
    form.offer_workspaces(names)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    context = {
        "form": form,
        "page": page,
        "rows": audit.rows(page.object_list, names),
        "query": query.urlencode(),
        "everyone": identity is not None and identity.has_role("admin"),
    }
    return render(request, "audit/audit_log.html", context, status=status)


def task_gone(request: HttpRequest, sid: str) -> HttpResponse | None:
    """A task TaskRouter no longer has, read-only, from what Taskdeck remembers of it: its
    last state in the index and its whole timeline (who canceled it and why included);
    None when Taskdeck never saw it nor wrote to it."""
    indexed = IndexedTask.objects.filter(sid=sid).first()
    records = list(audit.history_of(sid))
    if indexed is None and not records:
        return None
    title = titles.attributes_title(indexed.attributes) if indexed is not None else ""
    title = title or next((found for r in records if (found := audit.title_of(r))), "")
    context = {
        "sid": sid,
        "title": title,
        "indexed": indexed,
        "attributes_pretty": presentation.pretty_json(indexed.attributes) if indexed else "",
        **timeline_page.context(sid, viewer=None, can_edit=False, deleted=True),
    }
    return render(request, "audit/task_gone.html", context, status=404)
