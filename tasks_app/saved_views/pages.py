"""The pages of saved views: the panel beside the task table (live counts, save, share,
land), a view's own page (change it, its alert, remove it), and the delivery log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from tasks_app import counts
from tasks_app.identity import Identity, forbidden, identity_of, require_role
from tasks_app.taskrouter import service as taskrouter
from tasks_app.views.common import fragment_response, render_fragment, with_workspace

from . import alerting, counting, store
from .forms import SavedViewForm, allowed_hosts_text, canonical_query, encode
from .models import AlertDelivery, AlertState, SavedView

# One count of a view serves every viewer of the same query for this long.
COUNT_SECONDS = 2.0


@dataclass
class Row:
    view: SavedView
    figures: counting.Figures
    state: AlertState | None
    url: str
    current: bool
    landing: bool
    may_change: bool
    may_share: bool

    @property
    def firing(self) -> bool:
        return self.state is not None and self.state.state == AlertState.State.FIRING


def figures_of(view: SavedView) -> counting.Figures:
    """The view's count and oldest wait from the index, shared by its viewers briefly."""
    digest = hashlib.sha256(f"{view.workspace_sid}?{view.query}".encode()).hexdigest()[:32]
    key = f"saved-view-figures:{digest}"
    figures = cache.get(key)
    if figures is None:
        figures = counting.count(view.workspace_sid, view.query)
        cache.set(key, figures, COUNT_SECONDS)
    return figures


def table_url(workspace: taskrouter.Workspace, view: SavedView) -> str:
    path = reverse("task_list", kwargs={"workspace": workspace.url_name})
    return f"{path}?{view.query}&view={view.pk}" if view.query else f"{path}?view={view.pk}"


def _identity(request: HttpRequest) -> Identity:
    identity = identity_of(request)
    assert identity is not None  # the SSO middleware lets nobody else through
    return identity


def panel_context(
    request: HttpRequest,
    workspace: taskrouter.Workspace,
    *,
    current: str,
    view_id: str = "",
    form: SavedViewForm | None = None,
    notice: str = "",
) -> dict:
    identity = _identity(request)
    views = list(store.usable(identity, workspace.sid))
    states = alerting.firing_views([v.pk for v in views])
    landing = store.landing_of(identity.username)
    current_query = encode(canonical_query(current) or canonical_query(counts.LANDING_QUERY))
    rows = [
        Row(
            view=view,
            figures=figures_of(view),
            state=states.get(view.pk),
            url=table_url(workspace, view),
            current=str(view.pk) == view_id or (not view_id and view.query == current_query),
            landing=landing is not None and landing.pk == view.pk,
            may_change=store.may_change(identity, view),
            may_share=identity.can_edit and not view.shared and view.owner == identity.username,
        )
        for view in views
    ]
    return {
        "workspace": workspace,
        "rows": rows,
        "firing_here": [row for row in rows if row.current and row.firing],
        "current_query": current,
        "save_form": form or SavedViewForm(initial={"query": current}, workspace=workspace),
        "can_share": identity.can_edit,
        "can_read_deliveries": identity.has_role("admin"),
        "landing": landing,
        "notice": notice,
        "refresh_url": reverse("saved_views_panel", kwargs={"workspace": workspace.url_name})
        + "?"
        + encode_panel(current, view_id),
    }


def panel_html(request: HttpRequest, workspace: taskrouter.Workspace) -> str:
    """The panel as the table page draws it in place (never loaded after the page: a
    panel arriving late would push the whole table down under the person's pointer)."""
    context = panel_context(
        request, workspace, current=request.GET.urlencode(), view_id=request.GET.get("view", "")
    )
    return render_to_string("saved_views/_panel.html", context, request=request)


def encode_panel(current: str, view_id: str) -> str:
    return urlencode({"current": current, "view": view_id, "part": "live"})


def _panel(request: HttpRequest, workspace: taskrouter.Workspace, **kwargs) -> HttpResponse:
    current = request.POST.get("current", request.GET.get("current", ""))
    view_id = request.POST.get("view", request.GET.get("view", ""))
    context = panel_context(request, workspace, current=current, view_id=view_id, **kwargs)
    status = 422 if kwargs.get("form") is not None and kwargs["form"].errors else 200
    # The live refresh asks for the counts alone (the save form keeps what is typed in it).
    live = request.method == "GET" and request.GET.get("part") == "live"
    template = "saved_views/_panel.html#live" if live else "saved_views/_panel.html"
    return fragment_response(request, template, context, status=status)


@require_safe
@with_workspace
def panel(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    """The panel on its own: loaded by the table page, and again with each live refresh."""
    return _panel(request, workspace)


def _back(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    """Without htmx, back to the table the person was looking at."""
    current = request.POST.get("current", "")
    target = reverse("task_list", kwargs={"workspace": workspace.url_name})
    return redirect(f"{target}?{current}" if current else target)


@require_POST
@with_workspace
def save(request: HttpRequest, workspace: taskrouter.Workspace) -> HttpResponse:
    """Save the table being looked at as a view (anyone; shared: editors)."""
    identity = _identity(request)
    form = SavedViewForm(request.POST, workspace=workspace)
    if form.is_valid():
        try:
            view = store.create(
                identity,
                workspace_sid=workspace.sid,
                workspace_name=workspace.friendly_name,
                data=form.cleaned_data,
            )
        except store.NotAllowed as refusal:
            form.add_error("shared", str(refusal))
        except store.NameTaken as taken:
            form.add_error("name", str(taken))
        else:
            notice = f"Saved “{view.name}”" + (" for everyone." if view.shared else ".")
            if not request.htmx:
                messages.success(request, notice)
                return _back(request, workspace)
            return _panel(request, workspace, notice=notice)
    if not request.htmx:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return _back(request, workspace)
    return _panel(request, workspace, form=form)


def _view_in(workspace: taskrouter.Workspace, identity: Identity, pk: int) -> SavedView:
    view = store.usable(identity, workspace.sid).filter(pk=pk).first()
    if view is None and identity.has_role("admin"):
        view = SavedView.objects.filter(pk=pk, workspace_sid=workspace.sid).first()
    if view is None:
        raise Http404("There is no such view.")
    return view


@require_POST
@with_workspace
def share(request: HttpRequest, workspace: taskrouter.Workspace, pk: int) -> HttpResponse:
    identity = _identity(request)
    view = _view_in(workspace, identity, pk)
    try:
        store.share(identity, view)
    except store.NotAllowed as refusal:
        return forbidden(request, str(refusal))
    except store.NameTaken as taken:
        return _after(request, workspace, str(taken))
    return _after(request, workspace, f"“{view.name}” is shared with everyone.")


@require_POST
@with_workspace
def land(request: HttpRequest, workspace: taskrouter.Workspace, pk: int) -> HttpResponse:
    """This view becomes what ``/`` opens for the person (pk 0: the default table)."""
    identity = _identity(request)
    view = _view_in(workspace, identity, pk) if pk else None
    try:
        store.set_landing(identity, view)
    except store.NotAllowed as refusal:
        return forbidden(request, str(refusal))
    text = f"Taskdeck opens “{view.name}” for you." if view else "Taskdeck opens the default table."
    return _after(request, workspace, text)


def _after(request: HttpRequest, workspace: taskrouter.Workspace, notice: str) -> HttpResponse:
    if request.htmx:
        return _panel(request, workspace, notice=notice)
    messages.success(request, notice)
    return _back(request, workspace)


@require_http_methods(["GET", "POST"])
@with_workspace
def edit(request: HttpRequest, workspace: taskrouter.Workspace, pk: int) -> HttpResponse:
    """A view's own page: its name, filters, sharing and alert; and Remove."""
    identity = _identity(request)
    view = _view_in(workspace, identity, pk)
    initial = store.editable_fields(view)
    status = 200
    if request.method == "POST":
        form = SavedViewForm(request.POST, workspace=workspace)
        if not store.may_change(identity, view):
            return forbidden(request, store._refusal(view))
        if form.is_valid():
            try:
                changed = store.change(identity, view, form.cleaned_data)
            except store.NotAllowed as refusal:
                form.add_error("shared", str(refusal))
            except store.NameTaken as taken:
                form.add_error("name", str(taken))
            else:
                text = f"Changed {', '.join(changed)}." if changed else "Nothing to change."
                messages.success(request, f"“{view.name}”: {text}")
                target = reverse("saved_view", kwargs={"workspace": workspace.url_name, "pk": pk})
                return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
        status = 422
    else:
        form = SavedViewForm(initial=initial, workspace=workspace)
    state = AlertState.objects.filter(view=view).first()
    context = {
        "workspace": workspace,
        "view": view,
        "form": form,
        "state": state,
        "figures": figures_of(view),
        "url": table_url(workspace, view),
        "may_change": store.may_change(identity, view),
        "may_remove": store.may_remove(identity, view),
        "can_share": identity.can_edit,
        "hosts": allowed_hosts_text(),
        "alert_seconds": f"{settings.TASKDECK_ALERT_SECONDS:g}",
        "deliveries": view.deliveries.all()[:10] if identity.has_role("admin") else None,
        "partials": {"view-form": "saved_views/view_page.html#view-form"},
    }
    return render_fragment(request, "saved_views/view_page.html", context, status=status)


@require_POST
@with_workspace
def remove(request: HttpRequest, workspace: taskrouter.Workspace, pk: int) -> HttpResponse:
    identity = _identity(request)
    view = _view_in(workspace, identity, pk)
    try:
        store.remove(identity, view)
    except store.NotAllowed as refusal:
        return forbidden(request, str(refusal))
    messages.success(request, f"Removed the view “{view.name}”.")
    target = reverse("task_list", kwargs={"workspace": workspace.url_name})
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@require_safe
@require_role("admin")
def deliveries(request: HttpRequest) -> HttpResponse:
    """The alert delivery log: every message and each of its attempts (admins)."""
    rows = AlertDelivery.objects.prefetch_related("log")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "saved_views/deliveries.html",
        {"page": page, "hosts": allowed_hosts_text()},
    )


def landing_redirect(request: HttpRequest) -> HttpResponse | None:
    """Where ``/`` sends this person: their landing view's table, or None (the default)."""
    identity = identity_of(request)
    if identity is None:
        return None
    view = store.landing_of(identity.username)
    if view is None:
        return None
    try:
        workspace = taskrouter.resolve_workspace(view.workspace_sid)
    except taskrouter.TaskRouterError:
        return None
    return redirect(table_url(workspace, view))
