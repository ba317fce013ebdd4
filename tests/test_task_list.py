"""The task table at /w/<workspace>/tasks/: the URL contract runbooks rely on."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tasks_app import bulk
from tasks_app.taskrouter import service as taskrouter
from tests.conftest import htmx_headers

pytestmark = pytest.mark.django_db

HTMX = htmx_headers("task-view")


def row_sids(html: str) -> list[str]:
    return re.findall(r'<tr id="row-(WT[0-9a-f]{32})"', html)


def cells(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<td class="{css_class}[^"]*"[^>]*>(.*?)</td>', html)


def statuses(html: str) -> list[str]:
    return re.findall(r'<span class="badge status-(\w+)">', html)


def support_tasks(**filters) -> list[taskrouter.Task]:
    ws = taskrouter.resolve_workspace("Support")
    return list(taskrouter.iter_tasks(workspace_sid=ws.sid, query=taskrouter.TaskQuery(**filters)))


def test_a_runbook_link_with_filters_shows_only_matching_tasks(client):
    response = client.get("/w/Support/tasks/?status=pending,reserved&queue=billing&size=200")
    html = response.content.decode()
    assert response.status_code == 200
    expected = [
        t.sid
        for t in support_tasks(statuses=("pending", "reserved"))
        if t.task_queue_friendly_name.lower() == "billing"
    ]
    assert row_sids(html) == expected[:200]
    assert set(statuses(html)) <= {"pending", "reserved"}
    assert "Billing" in html


def test_status_may_be_repeated_instead_of_comma_separated(client):
    comma = client.get("/w/Support/tasks/?status=assigned,wrapping").content.decode()
    repeated = client.get("/w/Support/tasks/?status=assigned&status=wrapping").content.decode()
    assert row_sids(comma) == row_sids(repeated) != []


def test_a_queue_and_a_workflow_may_be_given_by_sid(client):
    queue = next(
        q
        for q in taskrouter.list_task_queues(
            workspace_sid=taskrouter.resolve_workspace("Support").sid
        )
    )
    by_sid = client.get(f"/w/Support/tasks/?queue={queue.sid}").content.decode()
    by_name = client.get(f"/w/Support/tasks/?queue={queue.friendly_name}").content.decode()
    assert row_sids(by_sid) == row_sids(by_name)
    assert f'<option value="{queue.friendly_name}" selected>' in by_sid


def test_the_workspace_may_be_named_by_sid_or_by_a_friendly_name_with_spaces(client, sandbox):
    sid = sandbox.workspace_sid("Sales & Renewals")
    by_name = client.get("/w/Sales%20%26%20Renewals/tasks/")
    by_sid = client.get(f"/w/{sid}/tasks/")
    assert by_name.status_code == by_sid.status_code == 200
    assert row_sids(by_name.content.decode()) == row_sids(by_sid.content.decode())


def test_an_unknown_workspace_is_a_404_with_a_message(client):
    response = client.get("/w/Nowhere/tasks/")
    assert response.status_code == 404
    assert "no workspace called" in response.content.decode()


def test_an_expression_filters_tasks_by_their_attributes(client):
    html = client.get('/w/Support/tasks/?where=language == "es"&cols=language&size=200')
    html = html.content.decode()
    assert row_sids(html)
    assert set(cells(html, "col-attribute")) == {"es"}


def test_sorting_by_priority_descending_orders_the_rows_and_marks_the_header(client):
    html = client.get("/w/Support/tasks/?status=pending&sort=-priority&size=100").content.decode()
    priorities = [int(p) for p in cells(html, "col-number") if p.isdigit()]
    assert priorities == sorted(priorities, reverse=True)
    assert re.search(r'<th scope="col" class="col-priority sortable" aria-sort="descending">', html)
    # Only the sorted column carries aria-sort; unsortable columns have no sort link.
    assert html.count("aria-sort=") == 1
    assert 'id="sort-queue"' not in html
    assert {"sort-priority", "sort-created", "sort-start"} <= set(
        re.findall(r'id="(sort-\w+)"', html)
    )


def test_a_sort_header_link_toggles_direction_and_drops_the_page_token(client):
    first = client.get("/w/Support/tasks/?sort=-priority&size=5").content.decode()
    token = re.search(r"page=(PA\w+)", first).group(1)
    html = client.get(f"/w/Support/tasks/?sort=-priority&size=5&page={token}").content.decode()
    assert 'rel="prev"' in html
    link = re.search(r'href="([^"]+)" id="sort-priority"', html).group(1)
    query = parse_qs(urlsplit(unquote(link.replace("&amp;", "&"))).query)
    assert query["sort"] == ["priority"]
    assert "page" not in query


def test_several_sort_keys_are_sent_to_taskrouter_in_order(client):
    html = client.get("/w/Support/tasks/?sort=-priority,created&size=300").content.decode()
    tasks = support_tasks(
        ordering=(
            taskrouter.rules.OrderKey("Priority", True),
            taskrouter.rules.OrderKey("DateCreated"),
        )
    )
    assert row_sids(html) == [t.sid for t in tasks[:300]]
    assert "by priority (highest first), then creation time (oldest first)" in html


def test_paging_forward_and_back_follows_taskrouters_tokens(client):
    first = client.get("/w/Support/tasks/?status=pending&size=10").content.decode()
    next_link = re.search(r'<a href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get("/w/Support/tasks/" + next_link).content.decode()
    prev_link = re.search(r'<a href="([^"]+)" rel="prev"', second).group(1).replace("&amp;", "&")
    back = client.get("/w/Support/tasks/" + prev_link).content.decode()
    expected = [t.sid for t in support_tasks(statuses=("pending",))]
    assert row_sids(first) == expected[:10]
    assert row_sids(second) == expected[10:20]
    assert row_sids(back) == expected[:10]
    assert "status=pending" in next_link and "size=10" in next_link


def test_there_is_no_invented_total(client):
    html = client.get("/w/Support/tasks/?size=10").content.decode()
    assert "10 tasks on this page" in html
    assert " of " not in re.sub(r"<[^>]+>", "", html.split("on this page")[0])[-40:]


def test_htmx_gets_only_the_view_fragment_and_an_announcement(client):
    response = client.get("/w/Support/tasks/?status=pending&sort=-priority", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="task-view"' in html
    assert '<div id="announcer" hx-swap-oob="innerHTML">Showing ' in html
    assert "HX-Request" in response["Vary"]
    full = client.get("/w/Support/tasks/?status=pending&sort=-priority").content.decode()
    assert "<html" in full and "hx-swap-oob" not in full
    assert row_sids(full) == row_sids(html)


def test_a_live_refresh_gets_only_the_rows(client):
    response = client.get("/w/Support/tasks/?status=pending", **htmx_headers("task-rows"))
    html = response.content.decode().strip()
    assert html.startswith('<tbody id="task-rows"') and html.endswith("</tbody>")
    assert re.search(r'data-version="[0-9a-f]{8}"', html)


def test_the_counts_strip_refreshes_on_its_own(client):
    response = client.get("/w/Support/tasks/?status=pending", **htmx_headers("counts"))
    html = response.content.decode().strip()
    assert html.startswith('<section id="counts"') and html.endswith("</section>")
    assert "Longest wait" in html or "Nothing waiting" in html


def test_invalid_parameters_get_messages_at_their_fields_and_keep_what_was_typed(client, caplog):
    with caplog.at_level(logging.INFO, logger="tasks_app.taskrouter.client"):
        caplog.clear()
        response = client.get(
            "/w/Support/tasks/?where=language == &size=5000&sort=name&priority=high"
            "&status=open&queue=Nope&cols=a-b"
        )
    html = response.content.decode()
    assert response.status_code == 400
    for field in ("where", "size", "sort", "priority", "status", "queue", "cols"):
        assert f'id="{field}-error"' in html, field
    assert "at character 12 (the end of the expression)" in html
    assert 'value="language == "' in html  # kept exactly as typed
    assert "Nope (not found)" in html
    assert "Enter a whole number from 1 to 1,000." in html  # size, both bounds as written
    assert "Enter a whole number from 0 to 2,147,483,647." in html  # priority=high
    assert not [r for r in caplog.records if "/Tasks" in r.getMessage()]  # nothing sent


def test_unknown_parameters_are_ignored(client):
    plain = client.get("/w/Support/tasks/?status=pending").content.decode()
    extra = client.get("/w/Support/tasks/?status=pending&utm_source=runbook&foo=bar")
    assert extra.status_code == 200
    assert row_sids(extra.content.decode()) == row_sids(plain)


def test_a_warm_page_view_costs_one_call_to_taskrouter(client, caplog):
    client.get("/w/Support/tasks/")  # fills the directory cache
    with caplog.at_level(logging.INFO, logger="tasks_app.taskrouter.client"):
        caplog.clear()
        client.get("/w/Support/tasks/?status=pending&queue=Billing&sort=-priority")
    calls = [r.getMessage() for r in caplog.records if r.name == "tasks_app.taskrouter.client"]
    assert len(calls) == 1 and "/Tasks" in calls[0]


def test_taskrouter_unavailable_shows_a_banner_with_retry_and_keeps_the_filters(
    client, loopback_sandbox
):
    client.get("/w/Support/tasks/")  # directory cached
    loopback_sandbox.faults.set("503;path=/Tasks")
    response = client.get("/w/Support/tasks/?status=pending&where=vip == true", **HTMX)
    html = response.content.decode()
    assert response.status_code == 503
    assert "TaskRouter had a problem" in html and "Try again" in html
    assert 'value="vip == true"' in html
    assert 'id="status-pending" checked' in html
    assert response["Taskdeck-Fragment"] == "1"


def test_rate_limiting_is_explained(client, loopback_sandbox):
    client.get("/w/Support/tasks/")
    loopback_sandbox.faults.set("429;path=/Tasks")
    html = client.get("/w/Support/tasks/").content.decode()
    assert "rate limiting" in html


def test_a_failed_live_refresh_answers_with_the_problem_not_empty_rows(client, loopback_sandbox):
    client.get("/w/Support/tasks/")
    loopback_sandbox.faults.set("503;path=/Tasks")
    response = client.get("/w/Support/tasks/", **htmx_headers("task-rows"))
    assert response.status_code == 503
    assert "task-rows" not in response.content.decode()


def test_attribute_columns_show_values_and_escape_them(client):
    ws = taskrouter.resolve_workspace("Support")
    workflow = taskrouter.list_workflows(workspace_sid=ws.sid)[0]
    task = taskrouter.create_task(
        actor="tests@example.com",
        workspace_sid=ws.sid,
        workflow_sid=workflow.sid,
        attributes={"customer": {"name": "<script>alert(1)</script>"}, "tags": ["a", "b"]},
        priority=2_000_000_000,
    )
    html = client.get("/w/Support/tasks/?cols=customer.name,tags&sort=-priority&size=1")
    html = html.content.decode()
    assert row_sids(html) == [task.sid]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "[&quot;a&quot;, &quot;b&quot;]" in html
    assert '<th scope="col" class="col-attr_0">' in html and "customer.name" in html


def test_when_lists_omit_attributes_the_columns_say_so_and_a_row_loads_them(client, settings):
    settings.SANDBOX_LIST_ATTRIBUTES = False
    html = client.get("/w/Support/tasks/?cols=language&size=5").content.decode()
    assert html.count("not in list") == 5
    row_url = re.search(r'hx-get="([^"]+/row/\?[^"]*)"', html).group(1).replace("&amp;", "&")
    row = client.get(row_url, **htmx_headers())
    assert row.status_code == 200
    assert re.search(r'<td class="col-attribute">(en|es|fr|de)</td>', row.content.decode())


def test_the_caption_describes_the_view(client):
    html = client.get(
        "/w/Support/tasks/?status=pending&queue=Billing&sort=-priority&size=5"
    ).content.decode()
    caption = re.search(r"<caption[^>]*>(.*?)</caption>", html).group(1)
    assert caption == "5 pending tasks in Support, queue Billing, by priority (highest first)."


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/w/Support/tasks/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in response.content.decode()  # no inline script at all


def test_home_redirects_to_the_default_workspace(client, settings):
    assert client.get("/")["Location"] == "/w/Support/tasks/"
    settings.TASKROUTER_DEFAULT_WORKSPACE = "sales & renewals"
    assert client.get("/")["Location"] == "/w/Sales%20&%20Renewals/tasks/"


def test_viewers_of_the_same_page_share_one_taskrouter_read(client, settings, caplog):
    settings.TASKROUTER_SHARED_READ_SECONDS = 30
    client.get("/w/Support/tasks/?status=pending")  # directory cached, page read once
    with caplog.at_level(logging.INFO, logger="tasks_app.taskrouter.client"):
        caplog.clear()
        for _ in range(3):
            assert client.get("/w/Support/tasks/?status=pending").status_code == 200
        client.get("/w/Support/tasks/?status=pending", **htmx_headers("task-rows"))
    assert [r for r in caplog.records if "/Tasks" in r.getMessage()] == []


def test_a_write_is_seen_at_once_by_its_writer_and_by_others_within_the_shared_interval(
    client, sandbox, settings, signed_in
):
    settings.TASKROUTER_SHARED_READ_SECONDS = 30
    sid = sandbox.task_sid("pending")
    url = "/w/Support/tasks/?status=pending&size=1000"
    colleague = signed_in("viewer")
    assert f'id="row-{sid}"' in client.get(url).content.decode()
    assert f'id="row-{sid}"' in colleague.get(url).content.decode()
    task = taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid(), task_sid=sid)
    taskrouter.update_task(
        actor="admin@example.com",  # the person behind `client`, from another instance
        workspace_sid=sandbox.workspace_sid(),
        task_sid=sid,
        if_match=task.etag,
        assignment_status="canceled",
        reason="test",
    )
    # The writer's next page reads again and shows their change ...
    assert f'id="row-{sid}"' not in client.get(url).content.decode()
    # ... and that newer read is what the colleague gets too; nobody else's view was
    # expired by the write itself.
    assert f'id="row-{sid}"' not in colleague.get(url).content.decode()


def test_during_a_bulk_job_each_shared_view_is_read_once_per_interval_however_many_viewers(
    sandbox, settings, signed_in, caplog
):
    settings.TASKROUTER_SHARED_READ_SECONDS = 1.0
    settings.TASKDECK_BULK_RATE = 20.0
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    sids = sandbox.task_sids("pending", limit=40)
    job = bulk.create(
        actor="ops@example.com",
        owner="tests",
        workspace_sid=sandbox.workspace_sid(),
        action="priority",
        reason="",
        priority=9,
        selection=bulk.Selection(sids=tuple(sids)),
    )
    bulk.prepare(job)
    bulk.start(job)
    viewers = [signed_in("viewer"), signed_in("editor"), signed_in("admin")]
    url = "/w/Support/tasks/?status=pending&sort=-priority"
    for viewer in viewers:
        viewer.get(url)  # directory lists cached; every page shares one read from here
    caplog.set_level(logging.INFO, logger="tasks_app.taskrouter.client")
    caplog.clear()
    started = time.monotonic()
    while bulk.run_chunk(job, seconds=0.1):  # two writes at a time, between the refreshes
        for viewer in viewers:
            assert viewer.get(url, **htmx_headers("task-rows")).status_code == 200
    elapsed = time.monotonic() - started

    lists = [r for r in caplog.records if re.search(r"^taskrouter GET \S+/Tasks ", r.getMessage())]
    writes = [r for r in caplog.records if r.getMessage().startswith("taskrouter POST")]
    assert len(writes) == 40
    # One read of the view per started interval (the first may straddle one more).
    assert len(lists) <= elapsed / settings.TASKROUTER_SHARED_READ_SECONDS + 2, (
        f"{len(lists)} reads of one view in {elapsed:.1f} s"
    )


def test_simultaneous_viewers_wait_for_one_read_instead_of_each_asking(
    settings, sandbox, loopback_sandbox
):
    from concurrent.futures import ThreadPoolExecutor

    settings.TASKROUTER_SHARED_READ_SECONDS = 30
    ws = sandbox.workspace_sid()
    loopback_sandbox.faults.set("delay=0.4;times=1;path=/Tasks")  # only the first read is slow
    query = taskrouter.TaskQuery(statuses=("assigned",))

    def view(_):
        page = taskrouter.list_tasks(workspace_sid=ws, query=query, max_age=30)
        return page.read_at, [t.sid for t in page]

    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(view, range(4)))
    # One read answered all four: the same moment, the same rows.
    assert len({read_at for read_at, _ in pages}) == 1
    assert len({tuple(rows) for _, rows in pages}) == 1


# --- Markup where a permission check can reach it ---------------------------------------


def test_a_table_that_may_not_edit_has_no_checkbox_no_edit_link_and_no_select_all(client):
    from tasks_app.tables import TaskTable

    tasks = support_tasks(statuses=("pending",))[:3]
    table = TaskTable(tasks, workspace_slug="Support", editable=False)
    html = table.header_html() + table.rows_html()
    assert row_sids(html) == [t.sid for t in tasks]
    assert "checkbox" not in html and ">Edit<" not in html and "select-all" not in html
    editable = TaskTable(tasks, workspace_slug="Support")
    html = editable.header_html() + editable.rows_html()
    assert html.count('class="row-select"') == 3 and html.count(">Edit</a>") == 3


def test_a_person_who_may_not_edit_sees_the_table_without_bulk_bar_or_new_task(client, monkeypatch):
    from tasks_app.views import browse

    monkeypatch.setattr(browse, "can_edit", lambda request: False)
    html = client.get("/w/Support/tasks/?status=pending").content.decode()
    assert row_sids(html)
    for control in ('id="bulk-form"', "New task", 'class="row-select"', ">Edit</a>"):
        assert control not in html, control


def test_the_filter_and_bulk_forms_take_their_limits_from_taskrouters_rules(client):
    from tasks_app.taskrouter import rules

    html = client.get("/w/Support/tasks/?status=pending").content.decode()
    priority_max = f'max="{rules.PRIORITY_MAX}"'
    assert re.search(
        rf'<input type="number" name="priority"[^>]*{priority_max}[^>]*id="id_priority"', html
    )
    assert re.search(rf'name="size"[^>]*max="{rules.PAGE_SIZE_MAX}"', html)
    assert re.search(rf'name="where"[^>]*maxlength="{rules.ATTRIBUTES_MAX_CHARS}"', html)
    assert re.search(r'id="bulk-priority"', html) and html.count(priority_max) == 2
    # The bulk actions say which tasks they apply to, in the rules' terms.
    assert '<option value="cancel">Cancel (pending or reserved)</option>' in html
    assert '<option value="complete">Complete (assigned or wrapping)</option>' in html


def test_no_template_of_the_table_page_restates_a_taskrouter_limit():
    from pathlib import Path

    from django.conf import settings

    copied = ("2147483647", "2,147,483,647", "4096", "4,096", 'max="1000"', "1,209,600")
    table_page = (
        "task_list.html",
        "_filter_field.html",
        "_task_table.html",
        "_row_controls.html",
        "_bulk_bar.html",
        "_pager.html",
    )
    for name in table_page:
        text = Path(settings.BASE_DIR, "templates", "tasks", name).read_text()
        assert not [c for c in copied if c in text], name


def test_the_export_takes_its_columns_from_its_own_list_not_the_table_on_screen():
    from tasks_app import exports
    from tasks_app.forms import AttributeColumn
    from tasks_app.taskrouter.expressions import parse_reference

    columns = exports.export_columns([AttributeColumn("language", parse_reference("language"))])
    headers = [c.header for c in columns]
    # Fields the table leaves off to fit a screen are still in the spreadsheet.
    assert {"Channel", "Age", "In queue since", "Title"} <= set(headers)
    assert headers[-1] == "language"


# --- The first screen: the waiting work ----------------------------------------------------


def test_with_no_parameters_the_table_shows_the_waiting_work_most_urgent_first(client):
    html = client.get("/w/Support/tasks/").content.decode()
    expected = support_tasks(
        statuses=("pending", "reserved"),
        ordering=(
            taskrouter.rules.OrderKey("Priority", True),
            taskrouter.rules.OrderKey("DateCreated"),
        ),
    )
    assert row_sids(html) == [t.sid for t in expected[:50]]
    assert set(statuses(html)) == {"pending", "reserved"}
    assert "Showing the waiting work" in html
    all_statuses = re.search(r'<a href="([^"]+)"[^>]*id="all-statuses"', html).group(1)
    everything = client.get("/w/Support/tasks/" + all_statuses.replace("&amp;", "&"))
    everything = everything.content.decode()
    assert "Showing the waiting work" not in everything
    assert set(statuses(everything)) - {"pending", "reserved"}
    with_agents = re.search(r'<a href="([^"]+)"[^>]*id="with-agents"', html).group(1)
    agents = client.get("/w/Support/tasks/" + with_agents.replace("&amp;", "&")).content.decode()
    assert set(statuses(agents)) == {"assigned", "wrapping"}


def test_any_explicit_parameter_keeps_its_old_meaning(client):
    html = client.get("/w/Support/tasks/?size=1000").content.decode()
    assert "Showing the waiting work" not in html
    assert row_sids(html) == [t.sid for t in support_tasks()][:1000]


def test_without_targets_the_waiting_work_comes_most_urgent_first_on_one_page(client):
    # Sorted by time to breach (Taskdeck's sort, over one read of the oldest waiting
    # tasks): with no target anywhere, that is highest priority, then longest waiting.
    first = client.get("/w/Support/tasks/").content.decode()
    expected = support_tasks(
        statuses=("pending", "reserved"),
        ordering=(
            taskrouter.rules.OrderKey("Priority", True),
            taskrouter.rules.OrderKey("DateCreated"),
        ),
    )
    assert row_sids(first) == [t.sid for t in expected[:50]]
    assert 'rel="next"' not in first


# --- A table that fits: titles, short SIDs, time in queue --------------------------------


def create_support_task(**attributes) -> taskrouter.Task:
    ws = taskrouter.resolve_workspace("Support")
    workflow = taskrouter.list_workflows(workspace_sid=ws.sid)[0]
    return taskrouter.create_task(
        actor="tests@example.com",
        workspace_sid=ws.sid,
        workflow_sid=workflow.sid,
        attributes=attributes,
        priority=2_000_000_000,
    )


def top_row(client) -> str:
    html = client.get("/w/Support/tasks/?sort=-priority&size=1").content.decode()
    return re.search(r"<tr id=.*?</tr>", html, re.S).group(0)


def test_a_row_is_titled_by_its_customer_escaped_with_the_sid_shortened_beside_it(client):
    task = create_support_task(customer={"name": "<b>Ada</b> & Co"}, name="not this one")
    row = top_row(client)
    link = re.search(r'<a href="[^"]*" title="WT[0-9a-f]{32}" class="task-title">[^<]*</a>', row)
    assert link and link.group(0).endswith('class="task-title">&lt;b&gt;Ada&lt;/b&gt; &amp; Co</a>')
    assert f"&amp; Co</a> WT…{task.sid[-4:]}</th>" in row
    assert f'title="{task.sid}"' in link.group(0) and f'/tasks/{task.sid}/"' in link.group(0)
    assert "<b>Ada" not in row


def test_the_first_title_attribute_present_wins_and_the_list_is_configurable(client, settings):
    create_support_task(name="", ticket="T-1234", **{"from": "+15550100"})
    assert 'class="task-title">+15550100</a>' in top_row(client)
    settings.TASKDECK_TITLE_ATTRIBUTES = ["ticket", "from"]
    assert 'class="task-title">T-1234</a>' in top_row(client)


def test_a_task_without_any_title_attribute_shows_its_short_sid(client):
    task = create_support_task(language="en")
    row = top_row(client)
    assert "task-title" not in row
    assert f'/tasks/{task.sid}/" title="{task.sid}" class="sid">WT…{task.sid[-4:]}</a>' in row


def test_each_open_row_says_how_long_it_has_been_waiting(client):
    create_support_task(language="en")
    cell = re.search(
        r'<td class="col-age" title="([\d,]+) seconds waiting in its queue">'
        r'waiting <span class="duration">(\d+) s</span></td>',
        top_row(client),
    )
    assert cell and int(cell.group(1).replace(",", "")) < 60
    header = client.get("/w/Support/tasks/?size=1").content.decode()
    assert '<th scope="col" class="col-time">Time</th>' in header


# --- Counts: from TaskRouter's statistics, never by listing tasks ------------------------


def test_the_counts_strip_shows_tasks_by_status_per_queue_and_the_longest_wait(client, sandbox):
    html = client.get("/w/Support/tasks/?status=pending").content.decode()
    strip = re.search(r'<section id="counts".*?</section>', html, re.S).group(0)
    every = support_tasks()
    for status in ("pending", "reserved", "assigned", "wrapping"):
        number = sum(1 for t in every if t.assignment_status == status)
        assert re.search(rf"status-{status}\">\w+</span> {number}</a>", strip)
        assert f'href="?status={status}&amp;sort=-priority%2Ccreated"' in strip
    queue = taskrouter.list_task_queues(workspace_sid=sandbox.workspace_sid())[0]
    waiting = sum(
        1
        for t in every
        if t.task_queue_sid == queue.sid and t.assignment_status in ("pending", "reserved")
    )
    row = re.search(rf'<tr data-queue="{queue.sid}".*?</tr>', strip, re.S).group(0)
    assert re.search(
        rf'href="\?status=pending%2Creserved&amp;queue={queue.sid}&amp;sort=breach" '
        rf'class="q-waiting"[^>]*>{waiting}</a>',
        row,
    )
    assert re.search(r'id="longest-wait">Longest wait <strong>\d+ (s|min|h|d)', strip)


def test_a_counts_link_opens_the_table_filtered_to_those_tasks(client):
    html = client.get("/w/Support/tasks/").content.decode()
    link = re.search(r'<a href="(\?status=reserved[^"]*)"', html).group(1).replace("&amp;", "&")
    filtered = client.get("/w/Support/tasks/" + link).content.decode()
    assert set(statuses(filtered)) == {"reserved"}


def test_counts_are_read_from_statistics_and_shared_between_viewers(client, caplog):
    client.get("/w/Support/tasks/")  # directory and statistics read once
    with caplog.at_level(logging.INFO, logger="tasks_app.taskrouter.client"):
        caplog.clear()
        client.get("/w/Support/tasks/?status=pending")
        client.get("/w/Support/tasks/?status=reserved")
    calls = [r.getMessage() for r in caplog.records if r.name == "tasks_app.taskrouter.client"]
    # Two table reads; the counts came from the shared statistics read, not from tasks.
    assert len(calls) == 2 and all("/Tasks" in c for c in calls)
    assert not [c for c in calls if "Statistics" in c]


def test_when_statistics_fail_the_table_still_shows_and_says_counts_are_unavailable(
    client, loopback_sandbox
):
    loopback_sandbox.faults.set("503;path=/RealTimeStatistics")
    response = client.get("/w/Support/tasks/?status=pending&size=5")
    html = response.content.decode()
    assert response.status_code == 200
    assert len(row_sids(html)) == 5
    assert "Counts unavailable" in html


def test_the_service_reads_statistics_as_typed_values(sandbox):
    ws = sandbox.workspace_sid()
    workspace = taskrouter.workspace_statistics(workspace_sid=ws)
    queues = taskrouter.queue_statistics(workspace_sid=ws)
    every = support_tasks()
    assert workspace.total_tasks == len(every)
    assert workspace.tasks_by_status["pending"] == sum(
        1 for t in every if t.assignment_status == "pending"
    )
    assert {q.task_queue_sid for q in queues} == {
        q.sid for q in taskrouter.list_task_queues(workspace_sid=ws)
    }
    assert workspace.longest_task_waiting_sid in {
        t.sid for t in every if t.assignment_status in ("pending", "reserved")
    }


def test_templates_can_title_a_task_the_way_the_table_does():
    from django.template import Context, Template

    task = create_support_task(customer={"name": "<i>Ada</i>"})
    html = Template("{% load taskdeck %}{{ task|task_title }} {{ task.sid|short_sid }}").render(
        Context({"task": task})
    )
    assert html == f"&lt;i&gt;Ada&lt;/i&gt; WT…{task.sid[-4:]}"


def test_attribute_columns_are_chosen_from_what_the_pages_tasks_hold(client):
    html = client.get("/w/Support/tasks/?status=pending&cols=language").content.decode()
    chooser = html[html.index('<details class="column-chooser"') :]
    chooser = chooser[: chooser.index("</details>")]
    offered = re.findall(r'name="cols" value="([^"]+)" form="filters"( checked)?', chooser)
    paths = [path for path, _ in offered]
    assert ("language", " checked") in offered  # shown now, ticked
    assert "customer.name" in paths and "customer.account.region" in paths  # seen, offered
    # Ticking boxes sends cols repeatedly; typed paths come comma-separated: both count.
    both = client.get("/w/Support/tasks/?status=pending&cols=language&cols=customer.name,channel")
    header = both.content.decode()
    for label in ("language", "customer.name", "channel"):
        assert 'class="col-attr_' in header and f">{label}<" in header


def test_the_column_chooser_offers_a_path_as_soon_as_a_task_on_the_page_holds_it(
    client, signed_in, sandbox
):
    def offered(browser) -> list[str]:
        html = browser.get("/w/Support/tasks/?status=pending&sort=created&size=1").content.decode()
        chooser = html[html.index('<details class="column-chooser"') :]
        return re.findall(r'name="cols" value="([^"]+)" form="filters"', chooser)

    first = client.get("/w/Support/tasks/?status=pending&sort=created&size=1").content.decode()
    sid = re.search(r'<tr id="row-(WT[0-9a-f]{32})"', first).group(1)
    before = offered(client)
    assert before and "escalation.owner" not in before
    assert offered(signed_in("viewer")) == before  # the same page, the same choices
    task = sandbox.fetch(sid)
    sandbox.change(sid, attributes={**task.attributes, "escalation": {"owner": "Ana"}})
    assert "escalation.owner" in offered(client)


def test_a_bad_attribute_path_is_shown_at_the_chooser_with_what_was_typed(client):
    response = client.get("/w/Support/tasks/?status=pending&cols=a..b")
    html = response.content.decode()
    assert response.status_code == 400
    chooser = html[html.index('<details class="column-chooser" open') :]
    assert 'value="a..b"' in chooser and 'id="cols-error"' in chooser


def test_table_times_are_in_the_configured_zone_with_the_utc_moment_on_hover(
    client, sandbox, settings
):
    settings.TIME_ZONE = "Europe/Paris"
    sid = sandbox.task_sid("pending")
    created = sandbox.fetch(sid).date_created
    body = client.get("/w/Support/tasks/", {"status": "pending", "size": "1000"}).content.decode()
    row = re.search(rf'<tr id="row-{sid}".*?</tr>', body, re.S).group(0)
    paris = created.astimezone(ZoneInfo("Europe/Paris"))
    cell = re.search(r'<td class="col-moment" [^>]*>[^<]*</td>', row).group(0)
    assert f'data-at="{paris.isoformat()}"' in cell
    assert f">{paris:%Y-%m-%d %H:%M}</td>" in cell
    # The browser rewrites times only for a viewer in another zone: the cell names its own.
    assert 'data-zone="Europe/Paris"' in cell
    assert f'title="{created.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"' in cell


@pytest.mark.parametrize(
    ("query", "unfolded"),
    [
        ("", False),
        ("size=50", False),  # the default, as a runbook link may spell it out
        ("size=%2050%20", False),
        ("size=100", True),
        ("priority=5", True),
        ("size=zero", True),  # an error shows where it is
    ],
)
def test_more_filters_unfold_only_when_one_of_them_changes_the_table(client, query, unfolded):
    html = client.get(f"/w/Support/tasks/?{query}").content.decode()
    drawer = re.search(r'<details class="filter-more"([^>]*)>', html)
    assert drawer is not None
    assert ("open" in drawer.group(1)) is unfolded
