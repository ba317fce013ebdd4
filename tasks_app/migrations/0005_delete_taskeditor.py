from django.db import migrations


class Migration(migrations.Migration):
    """Open editors moved out of the database into signed tokens carried by each form."""

    dependencies = [("tasks_app", "0004_auditrecord_append_only"), ("tasks_app", "0004_bulk_queue")]

    operations = [migrations.DeleteModel(name="TaskEditor")]
