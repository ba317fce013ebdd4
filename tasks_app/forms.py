"""Forms: every piece of user input is checked here, with TaskRouter's own rules.

The task table's query parameters are a public contract (runbooks link to them), so the
filter form speaks the URL's vocabulary (`status`, `queue`, `sort=-priority` ...) and
turns it into a `TaskQuery` for the service module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from django import forms
from django.conf import settings
from django.utils import timezone

from tasks_app import editing, presentation, route_preview, search
from tasks_app.bulk import TARGET_STATUS
from tasks_app.editing import Change
from tasks_app.index import holders
from tasks_app.models import BulkJob
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.expressions import (
    ExpressionSyntaxError,
    Reference,
    check_expression,
    parse_reference,
)

# The table's sortable columns, by the names the URL uses, and TaskRouter's Ordering keys.
SORT_KEYS: dict[str, str] = {
    "priority": "Priority",
    "created": "DateCreated",
    "start": "VirtualStartTime",
}
# Sorted by Taskdeck, not TaskRouter: time to breach (tasks_app.triage.breach), over one
# read of the oldest matching tasks.
LOCAL_SORT = "breach"
MAX_ATTRIBUTE_COLUMNS = 8


class StatusCheckboxes(forms.CheckboxSelectMultiple):
    """One checkbox per status, each with the id ``status-<value>`` (stable across
    renders, so htmx keeps focus on the box just clicked)."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []
        if isinstance(values, str):
            values = [values]
        return [part.strip() for v in values for part in v.split(",") if part.strip()]

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        option["attrs"]["id"] = f"{name}-{value}"
        return option


class CommaSeparatedMultipleField(forms.MultipleChoiceField):
    """Accepts ``status=pending,reserved``, ``status=pending&status=reserved`` or both."""

    widget = StatusCheckboxes


class NamedSelect(forms.Select):
    """A menu of queues or workflows by name that also shows a value given by SID or in
    another case (runbook links use both) as the item it names."""

    def __init__(self, *, choices, canonical: dict[str, str], **kwargs) -> None:
        super().__init__(choices=choices, **kwargs)
        self.canonical = canonical

    def format_value(self, value):
        values = super().format_value(value)
        return [self.canonical.get(v) or self.canonical.get(v.casefold()) or v for v in values]


class FilterBoundField(forms.BoundField):
    """The filter bar's fields point at their help as ``<name>-help`` and at their errors
    as ``<name>-error`` (the ids the page and runbook screenshots have always used)."""

    @property
    def aria_describedby(self) -> str:
        ids = [f"{self.name}-help"] if self.help_text else []
        if self.errors:
            ids.append(f"{self.name}-error")
        return " ".join(ids)


@dataclass(frozen=True, slots=True)
class AttributeColumn:
    """An attribute column the user asked for with ``cols=customer.name``."""

    path: str
    reference: Reference


def _any_of(names: Sequence[str]) -> str:
    """``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


class SearchInput(forms.TextInput):
    input_type = "search"


class CommaJoinedTextInput(forms.TextInput):
    """A text field that also takes the value repeated (``cols=a&cols=b.c``, as ticked
    checkboxes send it) or comma-separated (``cols=a,b.c``, as runbooks link it)."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name) or ""]
        return ",".join(v for v in values if v)


def _text(placeholder: str = "", **attrs) -> forms.TextInput:
    return forms.TextInput(
        attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": placeholder, **attrs}
    )


class WholeNumberField(forms.IntegerField):
    """A whole number between two bounds, with one message for anything else that names
    both bounds as the help texts write them ("from 0 to 2,147,483,647"), where Django's
    own would say "Ensure this value is less than or equal to 2147483647"."""

    def __init__(self, *, min_value: int, max_value: int, **kwargs) -> None:
        message = f"Enter a whole number from {min_value:,} to {max_value:,}."
        kwargs["error_messages"] = {
            "invalid": message,
            "min_value": message,
            "max_value": message,
            **kwargs.get("error_messages", {}),
        }
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)


def _number(**attrs) -> forms.NumberInput:
    # min and max come from the field (rules), never from the template.
    return forms.NumberInput(attrs={"inputmode": "numeric", **attrs})


class TaskFilterForm(forms.Form):
    """The task table's query parameters. Unknown parameters are ignored.

    The page renders every field from here: limits come from `rules` through the fields'
    min/max/max_length, so no template restates them."""

    bound_field_class = FilterBoundField
    # Shown in the compact bar; the rest fold under "More filters".
    PRIMARY_FIELDS = ("queue", "workflow", "where")
    # `cols` is chosen beside the table, from the attributes its rows hold (see
    # presentation.column_choices), so it is not in the fold.
    MORE_FIELDS = ("breach", "priority", "agent", "holder", "addons", "size")

    # The search box: the page renders it first in the compact bar, before the statuses.
    q = forms.CharField(
        required=False,
        label="Search",
        # One over the limit, so a pasted text that is too long gets the message, not a cut.
        max_length=search.SEARCH_MAX_CHARS + 1,
        strip=False,
        widget=SearchInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "Task SID or text"}
        ),
    )
    status = CommaSeparatedMultipleField(
        required=False,
        choices=[(s, s.capitalize()) for s in rules.STATUSES],
        label="Status",
    )
    queue = forms.CharField(required=False, label="Queue", max_length=200)
    workflow = forms.CharField(required=False, label="Workflow", max_length=200)
    priority = WholeNumberField(
        required=False,
        min_value=rules.PRIORITY_MIN,
        max_value=rules.PRIORITY_MAX,
        label="Priority",
        widget=_number(),
    )
    where = forms.CharField(
        required=False,
        label="Attributes match",
        max_length=rules.ATTRIBUTES_MAX_CHARS,
        help_text="A TaskRouter expression: == != < > CONTAINS HAS IN NOT IN, joined with "
        "AND / OR. Press Enter to apply.",
        widget=_text('language == "es" AND vip == true'),
    )
    addons = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("yes", "With add-ons"), ("no", "Without add-ons")],
        label="Add-ons",
    )
    breach = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("now", "Breaching now"), ("soon", "Breaching within 5 min")],
        label="Service level",
        error_messages={
            "invalid_choice": "Service level is “now” (past its target) or “soon” (within "
            "5 minutes of it), not %(value)s."
        },
    )
    # Taskdeck's own filters, applied from its index (TaskRouter cannot filter tasks by
    # who holds them): the rows then come from the index, as its events left them.
    agent = forms.CharField(
        required=False,
        label="Agent",
        max_length=255,
        help_text="Tasks this agent holds (reserved, assigned or wrapping): a name or a WK SID.",
        widget=_text("Ana López"),
    )
    holder = forms.ChoiceField(
        required=False,
        choices=[("", "Anyone"), ("unavailable", "Agents who are not available")],
        label="Held by",
        help_text="Tasks held by agents on a break, at lunch or signed out.",
    )
    sort = forms.CharField(required=False, label="Sort", max_length=100, widget=forms.HiddenInput)
    size = WholeNumberField(
        required=False,
        min_value=rules.PAGE_SIZE_MIN,
        max_value=rules.PAGE_SIZE_MAX,
        label="Rows per page",
        widget=_number(placeholder=rules.DEFAULT_PAGE_SIZE),
    )
    page = forms.CharField(required=False, max_length=200)
    cols = forms.CharField(
        required=False,
        label="Attribute columns",
        max_length=500,
        help_text="Other attribute paths to show as columns, comma-separated.",
        widget=CommaJoinedTextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "customer.tier"}
        ),
    )

    def __init__(
        self,
        data,
        *,
        queues: Sequence[taskrouter.TaskQueue],
        workflows: Sequence[taskrouter.Workflow],
        sid_jumps: bool = False,
        workspace_sid: str | None = None,
    ) -> None:
        """``sid_jumps``: the table opens a task whose SID is searched for; anywhere else
        (a bulk action's saved filter) a SID is not a filter and is refused.
        ``workspace_sid``: whose agents ``agent`` names (without it, it is not checked)."""
        super().__init__(data, label_suffix="")
        self.workspace_sid = workspace_sid
        self.queues = tuple(queues)
        self.workflows = tuple(workflows)
        self.sid_jumps = sid_jumps
        self.jump_sid: str | None = None
        self.search_expression = ""
        paths = search.search_paths()
        self.fields["q"].help_text = (
            f"A task SID opens that task. Other text narrows this table to tasks whose "
            f"{_any_of(paths)} contains it (exact case, as TaskRouter compares). For any "
            "case, every workspace and closed tasks, use Search all tasks at the top."
        )
        for name, known in (("queue", self.queues), ("workflow", self.workflows)):
            self.fields[name].widget = self._menu(name, known)

    def _menu(self, name: str, known: Sequence) -> NamedSelect:
        """Every item by name; a typed value that names nothing stays, marked, so the
        user sees it and fixes it."""
        canonical = {i.sid: i.friendly_name for i in known}
        canonical |= {i.friendly_name.casefold(): i.friendly_name for i in known}
        choices = [("", f"Any {name}")] + [(i.friendly_name, i.friendly_name) for i in known]
        raw = (self.data.get(name) or "").strip() if self.data else ""
        if raw and raw not in canonical and raw.casefold() not in canonical:
            choices.append((raw, f"{raw} (not found)"))
        return NamedSelect(choices=choices, canonical=canonical)

    # --- field by field ---

    def clean_queue(self) -> taskrouter.TaskQueue | None:
        return _named(self.cleaned_data["queue"], self.queues, prefix="WQ", kind="queue")

    def clean_workflow(self) -> taskrouter.Workflow | None:
        return _named(self.cleaned_data["workflow"], self.workflows, prefix="WW", kind="workflow")

    def clean_where(self) -> str:
        text = self.cleaned_data["where"].strip()
        if not text:
            return ""
        try:
            return check_expression(text, param="where")
        except ExpressionSyntaxError as error:
            # Kept so the page can point at the spot, not only name the character.
            self.where_error_position = error.position
            raise forms.ValidationError(error.user_message, code="expression") from None

    def clean_q(self) -> str:
        text = self.cleaned_data["q"].strip()
        if not text:
            return ""
        sid = search.task_sid_in(text)
        if sid is not None:
            if not self.sid_jumps:
                raise forms.ValidationError(
                    "A task SID opens that task; it is not a filter.", code="search"
                )
            self.jump_sid = sid
            return sid
        try:
            self.search_expression = search.search_expression(text)
        except search.SearchTextError as error:
            raise forms.ValidationError(str(error), code="search") from None
        return text

    def clean_agent(self) -> holders.WorkerRef | None:
        text = self.cleaned_data["agent"].strip()
        if not text or self.workspace_sid is None:
            return None
        found = holders.find_workers(self.workspace_sid, text)
        if len(found) == 1:
            return holders.WorkerRef(found[0].sid, found[0].name)
        if found:
            sids = ", ".join(sorted(w.sid for w in found))
            raise forms.ValidationError(
                f"Several agents are called {text!r}; give one's SID: {sids}.", code="agent"
            )
        names = holders.worker_names(self.workspace_sid)
        known = f" Known: {', '.join(names[:12])}{'…' if len(names) > 12 else ''}." if names else ""
        raise forms.ValidationError(
            f"This workspace has no agent called {text!r}.{known}", code="agent"
        )

    def holder_filtered(self) -> bool:
        """Whether one of Taskdeck's agent filters is on: the rows then come from the index."""
        data = getattr(self, "cleaned_data", {})
        return bool(data.get("agent") or data.get("holder"))

    def clean(self) -> dict:
        data = super().clean()
        if self.search_expression and data.get("where"):
            try:
                check_expression(self.expression(), param="q")
            except ExpressionSyntaxError as error:
                self.add_error("q", error.user_message)
        if data.get("page") and self.arranged_here:
            self.add_error(
                "page",
                "Tasks sorted or filtered by time to breach come on one page; "
                "start again from the first page.",
            )
        if (data.get("agent") or data.get("holder")) and data.get("addons"):
            self.add_error(
                "addons",
                "Taskdeck's index does not know a task's add-ons: clear Add-ons to filter by "
                "agent.",
            )
        return data

    @property
    def arranged_here(self) -> bool:
        """Whether Taskdeck filters or sorts the rows itself (by time to breach): one read
        of the oldest matching tasks, no pages (tasks_app.triage.breach)."""
        data = getattr(self, "cleaned_data", {})
        sort = data.get("sort") or ()
        return bool(data.get("breach")) or any(a.lstrip("-") == LOCAL_SORT for a in sort)

    def expression(self) -> str:
        """What ``EvaluateTaskAttributes`` gets: ``where`` and the search, both required."""
        return search.combined(self.cleaned_data.get("where") or "", self.search_expression)

    def clean_sort(self) -> tuple[str, ...]:
        aliases: list[str] = []
        for part in (p.strip() for p in self.cleaned_data["sort"].split(",")):
            if not part:
                continue
            name = part.lstrip("-")
            if name not in SORT_KEYS and name != LOCAL_SORT:
                raise forms.ValidationError(
                    f"Tasks can be sorted by {', '.join([*SORT_KEYS, LOCAL_SORT])} (add - for "
                    f"descending), not {part!r}.",
                    code="sort",
                )
            if any(a.lstrip("-") == name for a in aliases):
                raise forms.ValidationError(f"Sort names {name} twice.", code="sort")
            aliases.append(part)
        if any(a.lstrip("-") == LOCAL_SORT for a in aliases) and len(aliases) > 1:
            raise forms.ValidationError(
                "Time to breach sorts on its own; drop the other sort keys.", code="sort"
            )
        try:
            rules.validate_ordering(order_keys(aliases))
        except taskrouter.InvalidParameter:
            raise forms.ValidationError(
                "TaskRouter cannot sort by created and start together; pick one.", code="sort"
            ) from None
        return tuple(aliases)

    def clean_size(self) -> int:
        return self.cleaned_data["size"] or rules.DEFAULT_PAGE_SIZE

    def clean_page(self) -> str | None:
        token = self.cleaned_data["page"].strip()
        if not token:
            return None
        try:
            return rules.validate_page_token(token, "WT", param="page")
        except taskrouter.InvalidParameter:
            raise forms.ValidationError(
                "This page link is out of date or damaged; start again from the first page.",
                code="page",
            ) from None

    def clean_cols(self) -> tuple[AttributeColumn, ...]:
        columns: list[AttributeColumn] = []
        for path in (p.strip() for p in self.cleaned_data["cols"].split(",")):
            if not path or any(c.path == path for c in columns):
                continue
            try:
                columns.append(AttributeColumn(path, parse_reference(path, param="cols")))
            except taskrouter.InvalidParameter as error:
                raise forms.ValidationError(f"{path!r}: {error.user_message}") from None
        if len(columns) > MAX_ATTRIBUTE_COLUMNS:
            raise forms.ValidationError(
                f"Show at most {MAX_ATTRIBUTE_COLUMNS} attribute columns at once."
            )
        return tuple(columns)

    # --- what the page shows ---

    where_error_position: int | None = None

    def where_error_parts(self) -> tuple[str, str, str] | None:
        """The expression split around the error: before, the character at it, after."""
        if self.where_error_position is None:
            return None
        text = self.data.get("where", "").strip()
        at = self.where_error_position
        return text[:at], text[at : at + 1] or " ", text[at + 1 :]

    def primary_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.PRIMARY_FIELDS]

    def more_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.MORE_FIELDS]

    # A value that means what an empty field means (a runbook link's size=50) sets nothing.
    _MEANS_EMPTY = {"size": str(rules.DEFAULT_PAGE_SIZE)}

    def more_in_use(self) -> bool:
        """Unfold "More filters" when one of them is set or has an error."""
        return any(
            name in self.errors
            or str(self.data.get(name) or "").strip() not in ("", self._MEANS_EMPTY.get(name))
            for name in self.MORE_FIELDS
        )

    # --- the result, for the view ---

    def to_query(self) -> taskrouter.TaskQuery:
        data = self.cleaned_data
        queue, workflow = data["queue"], data["workflow"]
        return taskrouter.TaskQuery(
            statuses=tuple(data["status"]),
            priority=data["priority"],
            task_queue_sid=queue.sid if queue else None,
            workflow_sid=workflow.sid if workflow else None,
            evaluate_task_attributes=self.expression() or None,
            has_addons={"yes": True, "no": False}.get(data["addons"]),
            ordering=self._ordering(),
        )

    def _ordering(self) -> tuple[rules.OrderKey, ...]:
        sort = self.cleaned_data["sort"]
        if any(a.lstrip("-") == LOCAL_SORT for a in sort):
            # Time to breach comes from the oldest tasks: read those, oldest first.
            return (rules.OrderKey("DateCreated"),)
        return order_keys(sort)


def order_keys(aliases: Sequence[str]) -> tuple[rules.OrderKey, ...]:
    """``("-priority", "created")`` -> TaskRouter's Ordering keys (time to breach is not
    one: Taskdeck sorts by it)."""
    return tuple(
        rules.OrderKey(SORT_KEYS[a.lstrip("-")], descending=a.startswith("-"))
        for a in aliases
        if a.lstrip("-") in SORT_KEYS
    )


def _named(value: str, known: Sequence, *, prefix: str, kind: str):
    """A queue or workflow given by name (case-insensitive) or by SID."""
    value = value.strip()
    if not value:
        return None
    if rules.is_sid(value, prefix):
        for item in known:
            if item.sid == value:
                return item
        raise forms.ValidationError(f"This workspace has no {kind} {value}.", code="unknown")
    folded = value.casefold()
    for item in known:
        if item.friendly_name.casefold() == folded:
            return item
    names = ", ".join(sorted(item.friendly_name for item in known)[:12])
    raise forms.ValidationError(
        f"This workspace has no {kind} called {value!r}. Known: {names}.", code="unknown"
    )


# --- Editing ------------------------------------------------------------------------------
# Each field checks its value with TaskRouter's own rule, so a form never lets through
# what TaskRouter would reject for its shape, and says so where the value was typed.


def _rule(check, *args, **kwargs):
    try:
        return check(*args, **kwargs)
    except taskrouter.InvalidParameter as error:
        raise forms.ValidationError(error.user_message) from None


class PriorityField(WholeNumberField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", rules.PRIORITY_MIN)
        kwargs.setdefault("max_value", rules.PRIORITY_MAX)
        kwargs.setdefault("help_text", "Higher is assigned first (0 to 2,147,483,647).")
        super().__init__(**kwargs)


class AttributesField(forms.CharField):
    """A JSON object; at most 4096 characters once compacted (as Taskdeck sends it)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "json-editor"}),
        )
        kwargs.setdefault("strip", False)  # the text is kept exactly as typed
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)
        if not text or not text.strip():
            return None
        attributes = _rule(rules.load_attributes, text, param="Attributes")
        _rule(rules.validate_attributes, attributes, param="Attributes")
        return attributes


class ReasonField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 1000)
        kwargs.setdefault("widget", forms.TextInput(attrs={"autocomplete": "off"}))
        super().__init__(**kwargs)


class VirtualStartTimeField(forms.DateTimeField):
    """A moment in UTC (how TaskRouter stores it); not in the future, not before 1900."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "widget",
            forms.DateTimeInput(
                attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
            ),
        )
        kwargs.setdefault("help_text", "UTC. Earlier means sooner in its queue.")
        super().__init__(**kwargs)

    def clean(self, value):
        moment = super().clean(value)
        if moment is None:
            return None
        return _rule(rules.validate_virtual_start_time, moment, now=timezone.now())


class SectionForm(forms.Form):
    """A form that changes a task: one part of the task page, or the table row's editor.

    It knows how to build itself from the task as its editor read it (``initial_from``),
    what change it asks for (``change``), its partial template, and which fields of the
    task its inputs start from (``fields_shown``), which is what the edit flow needs to
    tell a conflict from the person's own earlier save on the same page."""

    section: ClassVar[str]
    title: ClassVar[str]
    submit_label: ClassVar[str] = "Save"
    fields_shown: ClassVar[tuple[str, ...]]
    # Shown on closed tasks too (deleting is possible whatever the status).
    open_when_closed: ClassVar[bool] = False

    def __init__(self, data=None, *, editor: editing.Editor, initial: dict | None = None):
        super().__init__(
            data, initial=initial or self.initial_from(editor.seen), prefix=self.section
        )
        self.editor = editor

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "section" in cls.__dict__:
            editing.FIELDS_OF_FORM[cls.section] = cls.fields_shown

    # The form's part of the page (fields and buttons); most need nothing special.
    template = "tasks/sections/_fields.html"
    # Forms that can move the task say where it will go as the person edits (htmx posts
    # the form to the task_route view on these events) and, after a save, where it went.
    route_trigger: ClassVar[str] = ""
    # The snapshot a save replaced, set on the fresh form shown after saving (run_edit).
    saved_over: dict | None = None

    def initial_from(self, seen: dict) -> dict:
        return {}

    def preview(self) -> list[editing.FieldDiff] | None:
        return None

    def change(self) -> Change:
        raise NotImplementedError

    def route_view(self) -> route_preview.RouteView | None:
        """Where the task goes with what is typed (None: nothing to say yet)."""
        return None

    def _route(self, attributes: dict | None, **kwargs) -> route_preview.RouteView:
        seen = self.editor.seen
        if self.saved_over is not None:
            return route_preview.after_save(
                workspace_sid=self.editor.workspace_sid, before=self.saved_over, now=seen
            )
        return route_preview.preview(
            workspace_sid=self.editor.workspace_sid,
            seen=seen,
            attributes=seen.get("attributes", {}) if attributes is None else attributes,
            **kwargs,
        )

    def _invalid_route(self, *names: str) -> route_preview.RouteView:
        errors = [f"{e}" for name in names for e in self.errors.get(name, ())]
        errors += [f"{e}" for e in self.non_field_errors()]
        text = " ".join(errors) or "Fix the form to see where the task would go."
        return route_preview.RouteView("invalid", problem=f"Not routed yet: {text}")


def _explain_workflow_priority(form: SectionForm) -> str:
    """Said before saving: a workflow target that fixes the priority makes TaskRouter keep
    its own, whatever is typed here."""
    seen = form.editor.seen
    if not form.editor.known or seen.get("assignment_status") in rules.CLOSED_STATUSES:
        return ""
    route = editing.priority_kept_by_workflow(
        workspace_sid=form.editor.workspace_sid,
        workflow_sid=seen.get("workflow_sid", ""),
        attributes=seen.get("attributes", {}),
    )
    if route is None:
        return ""
    kept = editing.priority_kept_text(route, subject="This task's workflow")
    text = f"{kept} whatever is saved here."
    form.fields["priority"].help_text = text
    return text


class PriorityEditForm(SectionForm):
    section, title, submit_label = "priority", "Priority", "Save priority"
    fields_shown = ("priority",)

    priority = PriorityField(label="Priority")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept_by_workflow = _explain_workflow_priority(self)

    def initial_from(self, seen: dict) -> dict:
        return {"priority": seen.get("priority")}

    def change(self) -> Change:
        return Change(priority=self.cleaned_data["priority"])


class AttributesEditForm(SectionForm):
    section, title, submit_label = "attributes", "Edit attributes", "Save attributes"
    fields_shown = ("attributes",)
    template = "tasks/sections/_attributes.html"

    attributes = AttributesField(
        label="Attributes (JSON)",
        help_text=f"A JSON object of at most {rules.ATTRIBUTES_MAX_CHARS:,} characters "
        "(Taskdeck sends it compacted). A pending task is routed again when its attributes "
        "change.",
    )

    def initial_from(self, seen: dict) -> dict:
        if seen.get("attributes_unreadable"):
            # Start from what TaskRouter holds: saving needs it fixed into JSON first.
            return {"attributes": seen["attributes_unreadable"]}
        return {"attributes": presentation.pretty_json(seen.get("attributes", {}))}

    def clean_attributes(self):
        if self.cleaned_data["attributes"] is None:
            raise forms.ValidationError("Attributes must be a JSON object; use {} for none.")
        return self.cleaned_data["attributes"]

    # Said in the preview when the new attributes make the workflow route the task elsewhere.
    route_note = ""

    def preview(self) -> list[editing.FieldDiff] | None:
        if "preview" not in self.data:
            return None
        attributes = self.cleaned_data["attributes"]
        self.route_note = editing.routed_elsewhere(self.editor, attributes)
        return editing.attribute_changes(self.editor.seen.get("attributes", {}), attributes)

    def change(self) -> Change:
        return Change(attributes=self.cleaned_data["attributes"])

    route_trigger = "input delay:400ms from:closest form"

    def route_view(self) -> route_preview.RouteView | None:
        if self.saved_over is not None:
            return self._route(None)
        if not self.is_bound:
            # A form shown again after a conflict starts from what the person typed.
            try:
                typed = rules.load_attributes(self.initial.get("attributes") or "{}")
            except taskrouter.InvalidParameter:
                typed = None
            return self._route(typed if isinstance(typed, dict) else None)
        if not self.is_valid():
            return self._invalid_route("attributes")
        return self._route(self.cleaned_data["attributes"])


class SendToQueueForm(SectionForm):
    """The queues a pending task's workflow can reach, each with the attribute change that
    routes it there (routing.ways_to_queues); sending saves that change."""

    section, title, submit_label = "send", "Send to a queue", "Send"
    # Its choices come from the attributes: a save of them elsewhere makes it a conflict.
    fields_shown = ("attributes",)
    template = "tasks/sections/_send.html"
    route_trigger = "change from:closest form"

    queue = forms.ChoiceField(label="Queue")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        seen = self.editor.seen
        self.pending = seen.get("assignment_status") == rules.PENDING
        self.unreadable = bool(seen.get("attributes_unreadable"))
        self.options = (
            route_preview.send_options(workspace_sid=self.editor.workspace_sid, seen=seen)
            if self.pending and self.editor.known
            else []
        )
        self.fields["queue"].choices = [("", "Choose a queue")] + [
            (o.queue_sid, o.label) for o in self.options if o.available
        ]

    @property
    def unreachable(self) -> list[route_preview.SendOption]:
        return [o for o in self.options if not o.available and not o.already]

    @property
    def current(self) -> route_preview.SendOption | None:
        return next((o for o in self.options if o.already), None)

    def clean_queue(self):
        if self.unreadable:
            raise forms.ValidationError(
                "The task's stored attributes are not valid JSON; fix them in the attributes "
                "editor first."
            )
        option = route_preview.option_for(self.options, self.cleaned_data["queue"])
        seen = self.editor.seen.get("attributes", {})
        merged = route_preview.sent(seen, option) if option is not None else None
        if option is None or merged is None:
            raise forms.ValidationError("No simple attribute change sends the task there.")
        self.option, self.merged = option, merged
        return option.queue_sid

    def change(self) -> Change:
        return Change(attributes=self.merged)

    def route_view(self) -> route_preview.RouteView | None:
        if self.saved_over is not None:
            return self._route(None)
        if not self.is_bound or not self.data.get(self.add_prefix("queue")):
            return None
        if not self.is_valid():
            return self._invalid_route("queue")
        return self._route(self.merged, change_line=f"Sets {self.option.change_text}.")


def _status_choices(current: str) -> list[tuple[str, str]]:
    # Labels are TaskRouter's own verbs ("Cannot wrap up task ..."): Cancel, Wrap up, Complete.
    return [(s, rules.ACTION_VERBS[s].capitalize()) for s in rules.allowed_transitions(current)]


def _require_reason(form: forms.Form, status: str | None) -> None:
    if status in rules.REASON_REQUIRED and not form.cleaned_data.get("reason"):
        verb = rules.ACTION_VERBS[status]
        form.add_error("reason", f"Say why you {verb} this task; TaskRouter records the reason.")


_REASON_HELP = (
    "Required to "
    + " or ".join(
        rules.ACTION_VERBS[s] for s in rules.REQUESTABLE_STATUSES if s in rules.REASON_REQUIRED
    )
    + "."
)


class StatusEditForm(SectionForm):
    section, title, submit_label = "status", "Status", "Change status"
    # The choices start from the status. The reason starts empty, and the attributes
    # typed here are keys merged into the task's attributes as they are when saved.
    fields_shown = ("assignment_status",)
    template = "tasks/sections/_status.html"

    assignment_status = forms.ChoiceField(label="New status", widget=forms.RadioSelect)
    reason = ReasonField(label="Reason", required=False, help_text=_REASON_HELP)
    attributes = AttributesField(
        label="Also set attributes (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "json-editor"}),
        help_text="Keys to add or change, merged into the task's attributes, e.g. "
        '{"disposition": "resolved"}. Saved first, then the status: TaskRouter needs two '
        "requests for both.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_status = self.editor.seen.get("assignment_status", "")
        self.fields["assignment_status"].choices = _status_choices(self.current_status)

    @property
    def transitions(self) -> list[editing.TransitionChoice]:
        return editing.transition_choices(self.current_status)

    def clean(self):
        data = super().clean()
        _require_reason(self, data.get("assignment_status"))
        current_attributes = self.editor.seen.get("attributes", {})
        merged = None
        if data.get("attributes") and self.editor.seen.get("attributes_unreadable"):
            self.add_error(
                "attributes",
                "The task's stored attributes are not valid JSON, so keys cannot be merged into "
                "them; fix them in the attributes editor first.",
            )
        elif data.get("attributes"):
            merged = {**current_attributes, **data["attributes"]}
            if merged == current_attributes:
                merged = None  # nothing new: no extra request
            else:
                try:
                    rules.validate_attributes(merged)
                except taskrouter.InvalidParameter as error:
                    self.add_error("attributes", f"Merged with the task's: {error.user_message}")
        data["merged_attributes"] = merged
        return data

    def change(self) -> Change:
        data = self.cleaned_data
        return Change(
            assignment_status=data["assignment_status"],
            reason=data["reason"] or None,
            attributes=data["merged_attributes"],
        )


class ChannelEditForm(SectionForm):
    section, title, submit_label = "channel", "Task channel", "Save channel"
    fields_shown = ("task_channel",)

    task_channel = forms.ChoiceField(label="Task channel")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = self.editor.seen.get("task_channel", "")
        try:
            channels = taskrouter.list_task_channels(workspace_sid=self.editor.workspace_sid)
        except taskrouter.TaskRouterError:
            channels = ()  # TaskRouter is down: offer what the task has; saving says why not
        choices = [(c.unique_name, f"{c.friendly_name} ({c.unique_name})") for c in channels]
        if current and all(value != current for value, _ in choices):
            choices.insert(0, (current, current))
        self.fields["task_channel"].choices = choices

    def initial_from(self, seen: dict) -> dict:
        return {"task_channel": seen.get("task_channel")}

    def change(self) -> Change:
        return Change(task_channel=self.cleaned_data["task_channel"])


class StartTimeEditForm(SectionForm):
    section, title, submit_label = "start", "Place in the queue", "Save start time"
    fields_shown = ("virtual_start_time",)
    template = "tasks/sections/_start.html"

    virtual_start_time = VirtualStartTimeField(label="Virtual start time", required=False)
    # "Move to the front of the queue" is a second submit button of the same form.
    front = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def initial_from(self, seen: dict) -> dict:
        moment = seen.get("virtual_start_time")
        value = rules.parse_datetime(moment, param="VirtualStartTime") if moment else None
        return {"virtual_start_time": value}

    def clean(self):
        data = super().clean()
        if not data.get("front") and not data.get("virtual_start_time") and not self.errors:
            self.add_error("virtual_start_time", "Pick a time, or move the task to the front.")
        return data

    def change(self) -> Change:
        if self.cleaned_data.get("front"):
            return Change(front_of_queue=True)
        return Change(virtual_start_time=self.cleaned_data["virtual_start_time"])


class DeleteTaskForm(SectionForm):
    """A confirmation: deleting acts on the whole task as the person saw it."""

    section, title, submit_label = "delete", "Delete", "Delete task"
    # Nothing of its own: it deletes the task the page shows, and every save on the page
    # redraws what the page shows of the task.
    fields_shown = ()
    open_when_closed = True
    template = "tasks/sections/_delete.html"

    def change(self) -> Change:
        return Change(delete=True)


# The task page's sections, in page order.
TASK_PAGE_SECTIONS: tuple[type[SectionForm], ...] = (
    StatusEditForm,
    PriorityEditForm,
    ChannelEditForm,
    StartTimeEditForm,
    SendToQueueForm,
    AttributesEditForm,
    DeleteTaskForm,
)
SECTION_FORMS: dict[str, type[SectionForm]] = {f.section: f for f in TASK_PAGE_SECTIONS}


class RowEditForm(SectionForm):
    """The table row's editor: priority, and a status change with its reason."""

    section, title, submit_label = "row", "Edit", "Save"
    fields_shown = ("priority", "assignment_status")

    priority = PriorityField(label="Priority", required=False, help_text="")
    assignment_status = forms.ChoiceField(label="Status", required=False)
    reason = ReasonField(label="Reason", required=False, help_text=_REASON_HELP)
    # Offered for a pending task whose workflow has a simple change to another queue.
    send_to = forms.ChoiceField(label="Send to", required=False)
    route_trigger = "change from:closest form"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Several rows may be open at once: ids per task keep each label on its own field.
        self.auto_id = f"id_{self.editor.task_sid}_%s"
        self.current_status = self.editor.seen.get("assignment_status", "")
        self.fields["assignment_status"].choices = [
            ("", f"Keep {self.current_status}"),
            *_status_choices(self.current_status),
        ]
        # Keyboard users land in the editor they opened (htmx honours autofocus on swap).
        self.fields["priority"].widget.attrs["autofocus"] = True
        self.kept_by_workflow = _explain_workflow_priority(self)
        self.options: list[route_preview.SendOption] = []
        seen = self.editor.seen
        pending = self.current_status == rules.PENDING and self.editor.known
        if pending and not seen.get("attributes_unreadable"):
            self.options = route_preview.send_options(
                workspace_sid=self.editor.workspace_sid, seen=seen
            )
        available = [o for o in self.options if o.available]
        if available:
            self.fields["send_to"].choices = [("", f"Keep {seen.get('task_queue') or 'its queue'}")]
            self.fields["send_to"].choices += [(o.queue_sid, o.label) for o in available]
        else:
            del self.fields["send_to"]
        self.option: route_preview.SendOption | None = None

    @property
    def transitions(self) -> list[editing.TransitionChoice]:
        return editing.transition_choices(self.current_status)

    def initial_from(self, seen: dict) -> dict:
        return {"priority": seen.get("priority")}

    def clean(self):
        data = super().clean()
        _require_reason(self, data.get("assignment_status"))
        if data.get("send_to"):
            self.option = route_preview.option_for(self.options, data["send_to"])
            if data.get("assignment_status"):
                self.add_error("send_to", "Send it to a queue or change its status, not both.")
        return data

    def _sent_attributes(self) -> dict | None:
        if self.option is None:
            return None
        return route_preview.sent(self.editor.seen.get("attributes", {}), self.option)

    def change(self) -> Change:
        data = self.cleaned_data
        priority = data["priority"]
        status = data["assignment_status"] or None
        return Change(
            priority=priority if priority not in (None, self.editor.seen.get("priority")) else None,
            assignment_status=status,
            reason=(data["reason"] or None) if status else None,
            attributes=self._sent_attributes(),
        )

    def route_view(self) -> route_preview.RouteView | None:
        if self.saved_over is not None:
            return (
                self._route(None)
                if self.saved_over.get("attributes") != (self.editor.seen.get("attributes"))
                else None
            )
        if "send_to" not in self.fields:
            return None
        if not self.is_bound:
            return self._route(None)
        if not self.is_valid():
            return self._invalid_route("send_to", "priority")
        if status := self.cleaned_data.get("assignment_status"):
            # A status change ends its wait. Said in a line, never an emptied box: the
            # preview redraws as a field loses focus, which is when the pointer is
            # pressing Save, and a box that shrank under it moved Save away.
            return route_preview.RouteView(
                "kept", headline=f"Not routed again: the task becomes {status}"
            )
        change = f"Sets {self.option.change_text}." if self.option else ""
        return self._route(
            self._sent_attributes(), priority=self.cleaned_data.get("priority"), change_line=change
        )


class CreateTaskForm(forms.Form):
    attributes = AttributesField(
        label="Attributes (JSON)",
        initial="{\n  \n}",
        required=False,
        help_text="A JSON object; the workflow routes the task by it.",
    )
    priority = PriorityField(label="Priority", required=False)
    timeout = WholeNumberField(
        label="Timeout (seconds)",
        required=False,
        min_value=rules.TIMEOUT_MIN,
        max_value=rules.TIMEOUT_MAX,
        help_text="How long it may wait to be assigned: up to 1,209,600 (two weeks); "
        "TaskRouter's default is 86,400 (a day).",
    )
    task_channel = forms.ChoiceField(label="Task channel", required=False)
    workflow = forms.ChoiceField(label="Workflow", required=False)
    virtual_start_time = VirtualStartTimeField(label="Virtual start time", required=False)

    def __init__(
        self,
        *args,
        channels: Sequence[taskrouter.TaskChannel],
        workflows: Sequence[taskrouter.Workflow],
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task_channel"].choices = [("", "default")] + [
            (c.unique_name, f"{c.friendly_name} ({c.unique_name})")
            for c in channels
            if c.unique_name != "default"
        ]
        self.fields["workflow"].choices = [(w.sid, w.friendly_name) for w in workflows]
        # TaskRouter picks the workflow only when the workspace has exactly one.
        self.fields["workflow"].required = len(workflows) != 1
        if len(workflows) > 1:
            self.fields["workflow"].choices.insert(0, ("", "Choose a workflow"))

    def create_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "attributes": data["attributes"] or {},
            "priority": data["priority"],
            "timeout": data["timeout"],
            "task_channel": data["task_channel"] or None,
            "workflow_sid": data["workflow"] or None,
            "virtual_start_time": data["virtual_start_time"],
        }


def _bulk_action_label(action: BulkJob.Action) -> str:
    """ "Cancel (pending or reserved)": which tasks an action applies to, from the rules."""
    if action == BulkJob.Action.SEND:
        return f"{action.label} (pending)"  # only a pending task is routed again
    target = TARGET_STATUS.get(action)
    if target is None:
        return str(action.label)
    sources = [s for s in rules.STATUSES if target in rules.allowed_transitions(s)]
    return f"{action.label} ({' or '.join(sources)})"


class BulkActionForm(forms.Form):
    """A bulk action over selected rows, or over everything matching the filter. The
    table's bulk bar renders from this class (``auto_id="bulk-%s"``)."""

    action = forms.ChoiceField(
        label="Action",
        # An undo is no choice of the bar: it is offered on a finished priority job.
        choices=[
            (action.value, _bulk_action_label(action))
            for action in BulkJob.Action
            if action != BulkJob.Action.UNDO
        ],
    )
    reason = ReasonField(label="Reason", required=False)
    priority = PriorityField(
        label="New priority",
        required=False,
        help_text="",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "narrow"}),
    )
    # For "Send to a queue": each task's attributes get the change its workflow needs to
    # route it there (the preview names each task's destination).
    queue = forms.ChoiceField(label="Send to queue", required=False)
    task = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    everything = forms.BooleanField(required=False, label="Every task matching this filter")
    query = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, queues: Sequence[taskrouter.TaskQueue] = (), **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        limit = settings.TASKDECK_BULK_MAX_TASKS
        self.fields["everything"].label = f"Every task matching this filter (up to {limit:,})"
        self.fields["queue"].choices = [("", "—")] + [(q.sid, q.friendly_name) for q in queues]

    def clean_task(self) -> list[str]:
        sids = [s.strip() for s in self.cleaned_data["task"] or [] if s.strip()]
        for sid in sids:
            _rule(rules.validate_sid, sid, "WT", param="Task")
        return list(dict.fromkeys(sids))

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action in (BulkJob.Action.CANCEL, BulkJob.Action.COMPLETE) and not data.get("reason"):
            self.add_error("reason", f"Say why you {action} these tasks; TaskRouter records it.")
        if action == BulkJob.Action.PRIORITY and data.get("priority") is None:
            self.add_error("priority", "Enter the new priority.")
        if action == BulkJob.Action.SEND and not data.get("queue"):
            self.add_error("queue", "Choose the queue to send these tasks to.")
        if not data.get("everything") and not data.get("task") and not self.errors:
            raise forms.ValidationError(
                "Select some tasks, or choose every task matching the filter."
            )
        return data
