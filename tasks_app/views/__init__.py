"""Views: parse the request, call the service module or the forms, choose a template.

Pages are full documents; when htmx asks for a part (``HX-Target``), the same template's
named partial answers, so every URL htmx pushes also opens directly (runbook links).
"""
