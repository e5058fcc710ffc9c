"""The report days' version bumped once per statement when cases and goals are inserted or
deleted, not once per row (issue #16).

Migration 0026's row triggers ran an UPDATE of ``report_days`` for every case and every goal
written: filing a batch of a hundred e-mails ran two to three hundred of them, each planned
with what the statistics said when the connection first ran it (on a young database: a
sequential scan of ``cases``, so a batch got slower as the table grew). PostgreSQL's statement
triggers see the statement's rows as a transition table: one UPDATE of the days they fall on.
Updates keep their row triggers (a trigger with a column list or a WHEN cannot have a
transition table); SQLite keeps its row triggers (it has no statement triggers).

Revision ID: 0030
Revises: 0029
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

DAY = "((received_at AT TIME ZONE 'Europe/Stockholm')::date)"
BUMP = "UPDATE report_days SET version = version + 1 WHERE day IN"

UPGRADE = f"""
CREATE FUNCTION report_days_mark_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {BUMP} (SELECT DISTINCT {DAY} FROM changed_rows);
  RETURN NULL;
END $$;

CREATE FUNCTION report_days_mark_goals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {BUMP} (SELECT DISTINCT {DAY} FROM cases
           WHERE id IN (SELECT DISTINCT case_id FROM changed_rows));
  RETURN NULL;
END $$;

DROP TRIGGER report_days_cases_insert ON cases;
DROP TRIGGER report_days_cases_delete ON cases;
DROP TRIGGER report_days_goals_insert ON case_goals;
DROP TRIGGER report_days_goals_delete ON case_goals;

CREATE TRIGGER report_days_cases_insert AFTER INSERT ON cases
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
  EXECUTE FUNCTION report_days_mark_cases();
CREATE TRIGGER report_days_cases_delete AFTER DELETE ON cases
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
  EXECUTE FUNCTION report_days_mark_cases();
CREATE TRIGGER report_days_goals_insert AFTER INSERT ON case_goals
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
  EXECUTE FUNCTION report_days_mark_goals();
CREATE TRIGGER report_days_goals_delete AFTER DELETE ON case_goals
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
  EXECUTE FUNCTION report_days_mark_goals();
"""

DOWNGRADE = """
DROP TRIGGER report_days_cases_insert ON cases;
DROP TRIGGER report_days_cases_delete ON cases;
DROP TRIGGER report_days_goals_insert ON case_goals;
DROP TRIGGER report_days_goals_delete ON case_goals;
DROP FUNCTION report_days_mark_cases();
DROP FUNCTION report_days_mark_goals();

CREATE TRIGGER report_days_cases_insert AFTER INSERT ON cases
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_case();
CREATE TRIGGER report_days_cases_delete AFTER DELETE ON cases
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_case();
CREATE TRIGGER report_days_goals_insert AFTER INSERT ON case_goals
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_goal();
CREATE TRIGGER report_days_goals_delete AFTER DELETE ON case_goals
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_goal();
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(UPGRADE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOWNGRADE)
