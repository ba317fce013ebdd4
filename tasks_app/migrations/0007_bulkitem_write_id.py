from django.db import migrations, models


class Migration(migrations.Migration):
    """A bulk item remembers its write in flight (to complete its audit record after a
    takeover) and the attributes it saw (to tell its own landed write from another)."""

    dependencies = [("tasks_app", "0006_bulkitem_title_seen")]

    operations = [
        migrations.AddField(
            model_name="bulkitem",
            name="attributes_digest",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="bulkitem",
            name="write_id",
            field=models.CharField(blank=True, max_length=32),
        ),
    ]
