# The hand-written sign-in lockout gave way to django-axes (accounts.lockout); its failures table goes with it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0003_append_only_triggers"),
    ]

    operations = [
        migrations.DeleteModel(name="LoginFailure"),
    ]
