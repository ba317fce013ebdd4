"""The audit trail: /audit/ (admins: everyone's writes; editors: their own), as a page or
as CSV, and the history of a task TaskRouter no longer has."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tasks_app import audit
from tasks_app.identity import identity_of, require_role

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
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    context = {
        "form": form,
        "page": page,
        "rows": audit.rows(page.object_list),
        "query": query.urlencode(),
        "everyone": identity is not None and identity.has_role("admin"),
    }
    return render(request, "audit/audit_log.html", context, status=status)


def task_gone(request: HttpRequest, sid: str) -> HttpResponse | None:
    """A task TaskRouter no longer has, with what Taskdeck remembers of it; None when
    Taskdeck never wrote to it either."""
    history = list(audit.history_of(sid))
    if not history:
        return None
    title = next((found for record in history if (found := audit.title_of(record))), "")
    context = {"sid": sid, "title": title, "history": history}
    return render(request, "audit/task_gone.html", context, status=404)
