"""``make bench``: how much time Taskdeck adds to the least a page can do with the same data.

Everything runs on loopback, each server in its own process (no shared GIL): the embedded
TaskRouter sandbox (``manage.py runsandbox``) seeded in a temporary directory, the dashboard
under gunicorn with production settings, and the floor app (`bench.floor`) under gunicorn
with the same worker class, workers and threads. One run measures, with interleaved
requests so the machine's drift hits every side alike, (a) the sandbox's raw answer, (f)
the floor and (b) Taskdeck:

* the task table at 50 and 1000 rows (b/f at most 1.15 and 1.0);
* one task's page (b/f at most 1.3);
* a live refresh of an unchanged 50-row table (at most half the floor's table, 2 KB);
* the 50-row table in workspaces of about 1,000 and 100,000 tasks (within 10%).

``python -m bench --help`` lists the options; ``--profile`` shows where the dashboard's own
time goes (the 1000-row table and one task's page), ``--browser`` times the table in
Chromium.
"""
