"""The ledger's rules enforced by the database itself.

PostgreSQL: every entry balances at commit (a deferred constraint trigger, one check per entry);
postings may only join an entry created in the same transaction (so a later insert cannot unbalance
a committed entry); entries and postings refuse UPDATE and DELETE.
SQLite: entries and postings refuse UPDATE (the application checks the balance on every database).
"""

from django.db import migrations

POSTGRES_UP = """
ALTER TABLE pricing_entry ADD COLUMN created_xact bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);

CREATE FUNCTION pricing_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total bigint; lines integer;
BEGIN
  SELECT coalesce(sum(amount_cents), 0), count(*) INTO total, lines FROM pricing_posting WHERE entry_id = NEW.id;
  IF total <> 0 OR lines < 2 THEN
    RAISE EXCEPTION 'ledger entry % (%) does not balance: % postings summing to % cents', NEW.id, NEW.key, lines, total
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER pricing_entry_balances AFTER INSERT ON pricing_entry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pricing_entry_balances();

CREATE FUNCTION pricing_posting_same_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE late bigint;
BEGIN
  SELECT e.id INTO late FROM (SELECT DISTINCT entry_id FROM new_postings) n
    JOIN pricing_entry e ON e.id = n.entry_id
   WHERE e.created_xact <> pg_current_xact_id()::text::bigint LIMIT 1;
  IF late IS NOT NULL THEN
    RAISE EXCEPTION 'ledger entry % was posted in an earlier transaction: it takes no more postings', late
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER pricing_posting_same_transaction AFTER INSERT ON pricing_posting
  REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION pricing_posting_same_transaction();

CREATE FUNCTION pricing_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the ledger is append-only: % on % refused (post a reversal instead)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER pricing_entry_append_only BEFORE UPDATE OR DELETE ON pricing_entry
  FOR EACH ROW EXECUTE FUNCTION pricing_ledger_append_only();
CREATE TRIGGER pricing_posting_append_only BEFORE UPDATE OR DELETE ON pricing_posting
  FOR EACH ROW EXECUTE FUNCTION pricing_ledger_append_only();
"""

POSTGRES_DOWN = """
DROP TRIGGER pricing_posting_append_only ON pricing_posting;
DROP TRIGGER pricing_entry_append_only ON pricing_entry;
DROP FUNCTION pricing_ledger_append_only();
DROP TRIGGER pricing_posting_same_transaction ON pricing_posting;
DROP FUNCTION pricing_posting_same_transaction();
DROP TRIGGER pricing_entry_balances ON pricing_entry;
DROP FUNCTION pricing_entry_balances();
ALTER TABLE pricing_entry DROP COLUMN created_xact;
"""

# Only UPDATE on SQLite: the test runner empties tables with DELETE there (PostgreSQL uses TRUNCATE).
SQLITE_UP = [
    f"""CREATE TRIGGER pricing_{table}_append_only BEFORE UPDATE ON pricing_{table}
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on pricing_{table} refused'); END;"""
    for table in ("entry", "posting")
]
SQLITE_DOWN = [f"DROP TRIGGER pricing_{table}_append_only;" for table in ("entry", "posting")]


def up(apps, schema_editor):  # type: ignore[no-untyped-def]
    statements = [POSTGRES_UP] if schema_editor.connection.vendor == "postgresql" else SQLITE_UP
    with schema_editor.connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)  # no parameters: the '%' of RAISE stays literal


def down(apps, schema_editor):  # type: ignore[no-untyped-def]
    statements = [POSTGRES_DOWN] if schema_editor.connection.vendor == "postgresql" else SQLITE_DOWN
    with schema_editor.connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)  # no parameters: the '%' of RAISE stays literal


class Migration(migrations.Migration):
    dependencies = [("pricing", "0002_contracts_ledger")]
    operations = [migrations.RunPython(up, down)]
