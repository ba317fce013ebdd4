"""Template filters for the few values pages format (the table formats in Python)."""

from django import template

from tasks_app import presentation

register = template.Library()

register.filter("human_duration", presentation.human_duration)
register.filter("full_moment", presentation.full_moment)
