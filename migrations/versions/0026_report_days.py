"""Daily pre-aggregates for the reports (issue #11, decision 112).

``report_days`` lists the local days whose cases and goals are counted in ``report_day_cases``
and ``report_day_goals`` by the job ``reports.aggregates.refresh``. Triggers on ``cases`` and
``case_goals`` bump the day's ``version`` in the transaction that changes anything a report
counts, so a report never reads a day whose counts are out of date: it counts that day live
until the job has counted it again.

PostgreSQL: the local day (Europe/Stockholm). SQLite has no time zones: a case's UTC date and
the day after (Stockholm is ahead of UTC, so its local date is one of the two) are both marked.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# What the reports count of a case and of a goal: only a change of one of these marks the day.
CASE_COLUMNS = (
    "received_at",
    "channel",
    "outcome",
    "case_type_id",
    "department_id",
    "first_response_at",
    "callback_due_at",
    "callback_done_at",
)
GOAL_COLUMNS = ("case_id", "target", "due_at", "met_at", "cancelled_at", "business_minutes")

PG_DAY = "(({row}.received_at AT TIME ZONE 'Europe/Stockholm')::date)"

PG_CREATE = f"""
CREATE FUNCTION report_days_mark_case() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE report_days SET version = version + 1
   WHERE day IN ({PG_DAY.format(row="OLD")}, {PG_DAY.format(row="NEW")});
  RETURN NULL;
END $$;

CREATE FUNCTION report_days_mark_goal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE report_days SET version = version + 1
   WHERE day IN (SELECT {PG_DAY.format(row="c")} FROM cases c
                  WHERE c.id IN (OLD.case_id, NEW.case_id));
  RETURN NULL;
END $$;

CREATE TRIGGER report_days_cases_insert AFTER INSERT ON cases
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_case();
CREATE TRIGGER report_days_cases_update AFTER UPDATE OF {", ".join(CASE_COLUMNS)} ON cases
  FOR EACH ROW WHEN ({" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in CASE_COLUMNS)})
  EXECUTE FUNCTION report_days_mark_case();
CREATE TRIGGER report_days_cases_delete AFTER DELETE ON cases
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_case();
CREATE TRIGGER report_days_goals_insert AFTER INSERT ON case_goals
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_goal();
CREATE TRIGGER report_days_goals_update AFTER UPDATE OF {", ".join(GOAL_COLUMNS)} ON case_goals
  FOR EACH ROW WHEN ({" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in GOAL_COLUMNS)})
  EXECUTE FUNCTION report_days_mark_goal();
CREATE TRIGGER report_days_goals_delete AFTER DELETE ON case_goals
  FOR EACH ROW EXECUTE FUNCTION report_days_mark_goal();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS report_days_goals_delete ON case_goals;
DROP TRIGGER IF EXISTS report_days_goals_update ON case_goals;
DROP TRIGGER IF EXISTS report_days_goals_insert ON case_goals;
DROP TRIGGER IF EXISTS report_days_cases_delete ON cases;
DROP TRIGGER IF EXISTS report_days_cases_update ON cases;
DROP TRIGGER IF EXISTS report_days_cases_insert ON cases;
DROP FUNCTION IF EXISTS report_days_mark_goal();
DROP FUNCTION IF EXISTS report_days_mark_case();
"""


def _sqlite_days(row: str) -> str:
    return f"date({row}.received_at), date({row}.received_at, '+1 day')"


def _sqlite_goal_days(row: str) -> str:
    return (
        f"SELECT date(received_at) FROM cases WHERE id = {row}.case_id UNION ALL "
        f"SELECT date(received_at, '+1 day') FROM cases WHERE id = {row}.case_id"
    )


def _distinct(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


BUMP = "UPDATE report_days SET version = version + 1 WHERE day IN"
SQLITE_TRIGGERS = {
    "report_days_cases_insert": (
        f"AFTER INSERT ON cases BEGIN {BUMP} ({_sqlite_days('NEW')}); END"
    ),
    "report_days_cases_update": (
        f"AFTER UPDATE OF {', '.join(CASE_COLUMNS)} ON cases WHEN {_distinct(CASE_COLUMNS)} "
        f"BEGIN {BUMP} ({_sqlite_days('OLD')}, {_sqlite_days('NEW')}); END"
    ),
    "report_days_cases_delete": (
        f"AFTER DELETE ON cases BEGIN {BUMP} ({_sqlite_days('OLD')}); END"
    ),
    "report_days_goals_insert": (
        f"AFTER INSERT ON case_goals BEGIN {BUMP} ({_sqlite_goal_days('NEW')}); END"
    ),
    "report_days_goals_update": (
        f"AFTER UPDATE OF {', '.join(GOAL_COLUMNS)} ON case_goals WHEN {_distinct(GOAL_COLUMNS)} "
        f"BEGIN {BUMP} ({_sqlite_goal_days('OLD')} UNION ALL {_sqlite_goal_days('NEW')}); END"
    ),
    "report_days_goals_delete": (
        f"AFTER DELETE ON case_goals BEGIN {BUMP} ({_sqlite_goal_days('OLD')}); END"
    ),
}


def _enum(length: int = 20) -> sa.String:
    return sa.String(length=length)


def upgrade():
    op.create_table(
        "report_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("built_version", sa.Integer(), nullable=True),
        sa.Column("due_1", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_2", sa.DateTime(timezone=True), nullable=True),
        sa.Column("live_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_xmax", sa.BigInteger(), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_report_days")),
    )
    op.create_table(
        "report_day_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", _enum(), nullable=False),
        sa.Column("outcome", _enum(), nullable=True),
        sa.Column("case_type_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        *[
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "cases",
                "within_1",
                "within_2",
                "unanswered",
                "callbacks_booked",
                "callbacks_in_time",
                "callbacks_late",
                "callbacks_pending",
                "min_id",
                "max_id",
            )
        ],
        sa.ForeignKeyConstraint(
            ["day"],
            ["report_days.day"],
            name=op.f("fk_report_day_cases_day_report_days"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_day_cases")),
    )
    op.create_index("ix_report_day_cases_day", "report_day_cases", ["day"], unique=False)
    op.create_table(
        "report_day_goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("target", _enum(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("case_type_id", sa.Integer(), nullable=True),
        sa.Column("channel", _enum(), nullable=False),
        sa.Column("in_time", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("minutes_sum", sa.Integer(), nullable=True),
        sa.Column("minutes_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["day"],
            ["report_days.day"],
            name=op.f("fk_report_day_goals_day_report_days"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_day_goals")),
    )
    op.create_index("ix_report_day_goals_day", "report_day_goals", ["day"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_CREATE)
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DROP)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_report_day_goals_day", table_name="report_day_goals")
    op.drop_table("report_day_goals")
    op.drop_index("ix_report_day_cases_day", table_name="report_day_cases")
    op.drop_table("report_day_cases")
    op.drop_table("report_days")
