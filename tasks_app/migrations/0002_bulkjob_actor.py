from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tasks_app", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="bulkjob",
            name="actor",
            field=models.CharField(default="unknown", max_length=254),
            preserve_default=False,
        ),
    ]
