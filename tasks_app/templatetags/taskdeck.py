"""Template filters for the few values pages format (the table formats in Python)."""

from django import template
from django.utils.html import format_html, format_html_join

from tasks_app import presentation, titles

register = template.Library()

register.filter("human_duration", presentation.human_duration)
register.filter("full_moment", presentation.full_moment)
# A task's human title (TASKDECK_TITLE_ATTRIBUTES) and its SID shortened, as the table shows
# them; autoescaped like any template value.
register.filter("task_title", titles.task_title)
register.filter("attributes_title", titles.attributes_title)
register.filter("short_sid", titles.short_sid)


@register.simple_tag
def field_errors(form, name: str) -> str:
    """A field's errors, with the id its input's aria-describedby points at."""
    errors = form.errors.get(name)
    if not errors:
        return ""
    lines = format_html_join("", "<p>{}</p>", ((error,) for error in errors))
    return format_html('<div class="field-error" id="{}-error">{}</div>', name, lines)
