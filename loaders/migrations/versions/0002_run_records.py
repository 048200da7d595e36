"""Run records: new and changed rows and a detail per ledger entry; why runs failed
(run_failure); what each run read per pooling region (run_stat); what each load wrote
(run_load). backfill_slice.slice widened to daily slices (YYYY-MM-DD).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_ledger") as batch:
        batch.add_column(sa.Column("new_rows", sa.BigInteger(), nullable=True,
                                   comment="source rows the warehouse had never held"))
        batch.add_column(sa.Column("changed_rows", sa.BigInteger(), nullable=True,
                                   comment="source rows whose content changed"))
        batch.add_column(sa.Column("detail", sa.Text(), nullable=True,
                                   comment="JSON: rows by rule and by ID repair, exports skipped, warnings"))
    if op.get_bind().dialect.name != "sqlite":  # SQLite does not enforce lengths
        # warehouses created before daily backfill slices have varchar(7)
        op.alter_column("backfill_slice", "slice", type_=sa.String(length=10),
                        existing_nullable=False)
    op.create_table(
        "run_failure",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=64), nullable=False, comment="'' when not one source's"),
        sa.Column("stage", sa.String(length=32), nullable=False, comment="stage | load | finish | run"),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "source_name"),
    )
    op.create_table(
        "run_stat",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=64), nullable=False),
        sa.Column("pooling_region", sa.String(length=6), nullable=False,
                  comment="GB/T 2260 code; '' where the row has no valid one"),
        sa.Column("measure", sa.String(length=16), nullable=False,
                  comment="extracted | accepted | quarantined | rule | repair"),
        sa.Column("item", sa.String(length=64), nullable=False, comment="the rule or ID repair; '' for rows"),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "source_name", "pooling_region", "measure", "item"),
    )
    op.create_table(
        "run_load",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(length=64), nullable=False),
        sa.Column("pooling_region", sa.String(length=6), nullable=False),
        sa.Column("new_rows", sa.BigInteger(), nullable=False),
        sa.Column("changed_rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "bucket", "source_name", "pooling_region"),
    )


def downgrade() -> None:
    op.drop_table("run_load")
    op.drop_table("run_stat")
    op.drop_table("run_failure")
    with op.batch_alter_table("run_ledger") as batch:
        batch.drop_column("detail")
        batch.drop_column("changed_rows")
        batch.drop_column("new_rows")
