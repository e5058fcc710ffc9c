"""Stored mail compressed with LZ4 instead of pglz on PostgreSQL (issue #16).

``blobs.data`` holds every raw message and attachment. PostgreSQL compresses a value over
about 2 kB before it stores it, with pglz unless told otherwise; LZ4 compresses and
decompresses several times as fast, and gives up sooner on data that does not compress
(JPEG, PDF, ZIP inside base64), for a few per cent more disk. Storing the raw messages was
the largest single cost of filing mail (bench/README.md, E-mail ingestion). Applies to rows
written from now on; existing rows stay as they are and read as before.

LZ4 needs a server built with it (PostgreSQL 14 or newer, ``--with-lz4``, as Debian's and the
official images are); without it the column keeps pglz and a notice says so. SQLite stores
blobs uncompressed: nothing to do.

Revision ID: 0029
Revises: 0028
"""

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def _set_compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        DO $$
        BEGIN
          EXECUTE 'ALTER TABLE blobs ALTER COLUMN data SET COMPRESSION {method}';
        EXCEPTION WHEN others THEN
          RAISE NOTICE 'blobs.data keeps its compression: %', SQLERRM;
        END $$;
        """
    )


def upgrade():
    _set_compression("lz4")


def downgrade():
    _set_compression("default")
