from django.db import migrations, models


class Migration(migrations.Migration):
    """Service-level targets: a target wait per queue, and per channel of a queue, set by
    admins (the triage strip's service level and every waiting row's time to breach)."""

    dependencies = [("tasks_app", "0007_bulkitem_write_id")]

    operations = [
        migrations.CreateModel(
            name="SlaTarget",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("workspace_sid", models.CharField(max_length=34)),
                ("queue_sid", models.CharField(max_length=34)),
                ("channel", models.CharField(blank=True, max_length=64)),
                ("seconds", models.PositiveIntegerField()),
                ("updated", models.DateTimeField(auto_now=True)),
                ("updated_by", models.CharField(blank=True, max_length=254)),
            ],
            options={"ordering": ["workspace_sid", "queue_sid", "channel"]},
        ),
        migrations.AddConstraint(
            model_name="slatarget",
            constraint=models.UniqueConstraint(
                fields=("workspace_sid", "queue_sid", "channel"), name="sla_target_once"
            ),
        ),
    ]
