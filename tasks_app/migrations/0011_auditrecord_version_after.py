from django.db import migrations, models


class Migration(migrations.Migration):
    """An audit record keeps the version its write produced: the task's timeline matches
    the write's TaskRouter events by it, and an undo sends it as If-Match. Empty in the
    database by default too, so rows inserted by other means (older releases during a
    deploy, SQL) stay valid."""

    dependencies = [("tasks_app", "0010_bulkjob_front_of_queue")]

    operations = [
        migrations.AddField(
            model_name="auditrecord",
            name="version_after",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
    ]
