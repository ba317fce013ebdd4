"""The service package: the only code in Taskdeck that talks to TaskRouter.

- `rules`, `expressions`, `query` and `errors` are pure Python: TaskRouter's rules, written
  once and used by the forms, the service and the embedded sandbox alike. Importing them
  pulls in neither Django nor requests.
- `service` is what views, forms and jobs call; it re-exports the errors, the typed
  resources and `TaskQuery`, so one import serves::

      from tasks_app.taskrouter import service as taskrouter
      page = taskrouter.list_tasks(workspace_sid=ws.sid, query=taskrouter.TaskQuery())

- `client` is HTTP (sessions, timeouts, retries, error mapping); only `service` uses it.
"""
