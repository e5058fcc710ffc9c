"""The append-only audit log (issue #15): a hash chain, its head and anchor row, the search
indexes, and on PostgreSQL triggers that refuse changes.

``audit_events`` gets ``seq`` and ``hash`` (set once by the seal, core/audit_chain.py);
``audit_chain`` holds one row: the head (last sealed event) and the anchor (last purged event).
The per-column case/contact indexes become (column, created_at, id) for the log's searches.

PostgreSQL triggers:
- an event's content never changes; only an unsealed event may get its seq and hash, once, and
  its seq must lie past the chain's head (so it cannot be put at or below the anchor and then
  deleted); a seq is always positive (a CHECK, on SQLite too);
- an event may be deleted only once it is sealed and at or below the anchor (the retention
  purge moves the anchor first, in the same transaction); TRUNCATE is refused;
- the chain row's head and anchor only move forward, and the anchor must name a sealed event
  at least 12 months old (the shortest retention allowed) and carry its hash, so the anchor
  cannot be moved onto recent events to delete them. No row is inserted while sealed events
  exist (a new row could name any anchor). Deleting the row is not refused (test suites empty
  every table): the verification then reports the chain broken, and the seal stops (it makes
  no new row under sealed events).
A role that owns the tables can still drop the triggers: the chain is what detects that.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

PG_FUNCTIONS = """
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.seq IS NOT NULL
       AND OLD.seq <= (SELECT purged_seq FROM audit_chain WHERE id = 1) THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: only purged events may be deleted'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.seq IS NULL AND OLD.hash IS NULL
     AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
     AND NEW.seq > (SELECT last_seq FROM audit_chain WHERE id = 1)
     AND (NEW.id, NEW.user_id, NEW.action, NEW.case_id, NEW.contact_id, NEW.created_at)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.user_id, OLD.action, OLD.case_id, OLD.contact_id, OLD.created_at)
     AND NEW.detail::text IS NOT DISTINCT FROM OLD.detail::text THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: an event is never changed'
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION audit_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: TRUNCATE refused'
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION audit_chain_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF EXISTS (SELECT 1 FROM audit_events WHERE seq IS NOT NULL) THEN
      RAISE EXCEPTION 'audit_chain: no new row under sealed events'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq OR NEW.purged_seq < OLD.purged_seq
     OR NEW.purged_seq > NEW.last_seq
     OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash)
     OR (NEW.purged_seq = OLD.purged_seq AND NEW.purged_hash <> OLD.purged_hash) THEN
    RAISE EXCEPTION 'audit_chain only moves forward' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.purged_seq <> OLD.purged_seq AND NOT EXISTS (
       SELECT 1 FROM audit_events WHERE seq = NEW.purged_seq AND hash = NEW.purged_hash) THEN
    RAISE EXCEPTION 'audit_chain: the anchor must be a sealed event and its hash'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.purged_seq <> OLD.purged_seq AND NOT EXISTS (
       SELECT 1 FROM audit_events WHERE seq = NEW.purged_seq
       AND created_at < now() - interval '12 months') THEN
    RAISE EXCEPTION 'audit_chain: no event younger than 12 months is purged'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER audit_events_guard BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_no_truncate();
CREATE TRIGGER audit_chain_guard BEFORE INSERT OR UPDATE ON audit_chain
  FOR EACH ROW EXECUTE FUNCTION audit_chain_guard();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS audit_chain_guard ON audit_chain;
DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
DROP TRIGGER IF EXISTS audit_events_guard ON audit_events;
DROP FUNCTION IF EXISTS audit_chain_guard();
DROP FUNCTION IF EXISTS audit_events_no_truncate();
DROP FUNCTION IF EXISTS audit_events_guard();
"""


def upgrade():
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("purged_seq", sa.BigInteger(), nullable=False),
        sa.Column("purged_hash", sa.String(length=64), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_intact", sa.Boolean(), nullable=True),
        sa.Column("verified_checked", sa.BigInteger(), nullable=True),
        sa.Column("verified_problem", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )
    op.bulk_insert(
        sa.table(
            "audit_chain",
            sa.column("id", sa.Integer()),
            sa.column("last_seq", sa.BigInteger()),
            sa.column("last_hash", sa.String()),
            sa.column("purged_seq", sa.BigInteger()),
            sa.column("purged_hash", sa.String()),
        ),
        [{"id": 1, "last_seq": 0, "last_hash": GENESIS, "purged_seq": 0, "purged_hash": GENESIS}],
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
        batch_op.create_check_constraint(batch_op.f("ck_audit_events_seq_positive"), "seq > 0")
        batch_op.drop_index(batch_op.f("ix_audit_events_case_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_contact_id"))
        batch_op.create_index("ix_audit_events_created", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_audit_events_case_created", ["case_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_contact_created", ["contact_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_action_created", ["action", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_unsealed",
            ["id"],
            unique=False,
            postgresql_where=sa.text("seq IS NULL"),
            sqlite_where=sa.text("seq IS NULL"),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DROP)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_unsealed")
        batch_op.drop_index("ix_audit_events_action_created")
        batch_op.drop_index("ix_audit_events_contact_created")
        batch_op.drop_index("ix_audit_events_case_created")
        batch_op.drop_index("ix_audit_events_created")
        batch_op.create_index(
            batch_op.f("ix_audit_events_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_case_id"), ["case_id"], unique=False)
        batch_op.drop_constraint(batch_op.f("ck_audit_events_seq_positive"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("seq")
    op.drop_table("audit_chain")
