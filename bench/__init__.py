"""``make bench``: how much time the dashboard adds to TaskRouter's own.

Everything runs on loopback, each server in its own process (no shared GIL): the embedded
TaskRouter sandbox (``manage.py runsandbox``) seeded in a temporary directory, and the
dashboard under gunicorn (one sync worker) with production settings. One run measures, with
interleaved requests so the machine's drift hits both sides alike:

* (a) a raw ``GET /v1/Workspaces/{WS}/Tasks`` of one page from the sandbox, and
  (b) the dashboard's table page ``/w/Support/tasks/`` for the same filter,
  at page sizes 50 and 1000, in a sandbox seeded with 10,000 tasks; the ratio b/a of the
  medians must stay at most 1.5 (50 rows) and 2.0 (1000 rows);
* the table page (50 rows) in workspaces of about 1,000 and 100,000 tasks: it must not grow
  with the workspace.

``python -m bench --help`` lists the options; ``--profile`` shows where the dashboard's own
time goes, for the 1000-row page.
"""
