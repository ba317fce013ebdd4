from django.db import migrations, models


class Migration(migrations.Migration):
    """A bulk action can move tasks to the front of their queues (the triage strip's
    "Front" for every task breaching in a queue)."""

    dependencies = [("tasks_app", "0009_bulk_send_to_a_queue")]

    operations = [
        migrations.AlterField(
            model_name="bulkjob",
            name="action",
            field=models.CharField(
                choices=[
                    ("cancel", "Cancel"),
                    ("complete", "Complete"),
                    ("priority", "Change priority"),
                    ("send", "Send to a queue"),
                    ("front", "Move to the front of the queue"),
                ],
                max_length=16,
            ),
        ),
    ]
