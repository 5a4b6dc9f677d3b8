"""The audit trail is append-only, enforced by the database itself.

PostgreSQL refuses UPDATE and DELETE on audit events; SQLite refuses UPDATE (its test runner empties
tables with DELETE, PostgreSQL's with TRUNCATE, which row triggers do not see). A user who has a
history is therefore deactivated, never deleted (the actor key is PROTECT).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTGRES_UP = """
CREATE FUNCTION consortium_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER consortium_auditevent_append_only BEFORE UPDATE OR DELETE ON consortium_auditevent
  FOR EACH ROW EXECUTE FUNCTION consortium_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER consortium_auditevent_append_only ON consortium_auditevent;
DROP FUNCTION consortium_audit_append_only();
"""
SQLITE_UP = """CREATE TRIGGER consortium_auditevent_append_only BEFORE UPDATE ON consortium_auditevent
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE on consortium_auditevent refused'); END;"""
SQLITE_DOWN = "DROP TRIGGER consortium_auditevent_append_only;"


def up(apps, schema_editor):  # type: ignore[no-untyped-def]
    sql = POSTGRES_UP if schema_editor.connection.vendor == "postgresql" else SQLITE_UP
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)  # no parameters: the '%' of RAISE stays literal


def down(apps, schema_editor):  # type: ignore[no-untyped-def]
    sql = POSTGRES_DOWN if schema_editor.connection.vendor == "postgresql" else SQLITE_DOWN
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("consortium", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.RunPython(up, down),
    ]
