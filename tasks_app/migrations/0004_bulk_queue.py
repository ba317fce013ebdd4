from django.db import migrations, models
from django.db.models import F


def previews_made_before_are_ready(apps, schema_editor):
    # Jobs made before previews moved to a worker were read in their request.
    apps.get_model("tasks_app", "BulkJob").objects.filter(prepared=None).update(
        prepared=F("created")
    )


class Migration(migrations.Migration):
    dependencies = [("tasks_app", "0002_bulkjob_actor")]

    operations = [
        migrations.AddField(
            model_name="bulkjob",
            name="chosen_sids",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="bulkjob",
            name="query_params",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bulkjob",
            name="prepared",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bulkjob",
            name="problem",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="bulkjob",
            name="heartbeat",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="bulkitem",
            name="state",
            field=models.CharField(
                choices=[
                    ("preview", "Will be changed"),
                    ("skipped", "Skipped"),
                    ("queued", "Waiting"),
                    ("running", "Writing"),
                    ("done", "Done"),
                    ("conflict", "Conflict"),
                    ("invalid", "Invalid state"),
                    ("failed", "Failed"),
                    ("kept", "Kept by workflow"),
                ],
                default="preview",
                max_length=16,
            ),
        ),
        migrations.RunPython(previews_made_before_are_ready, migrations.RunPython.noop),
    ]
