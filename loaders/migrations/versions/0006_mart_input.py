"""What each month's national marts were counted from (mart_input): a national run that changed
nothing keeps the month's figures instead of counting the warehouses again. Indexes on the run
columns that a run's matching and the national read search by (they scanned the tables).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RUN_COLUMNS = [("source_record", "run_id"), ("person", "created_run"), ("person", "updated_run"),
               ("person_history", "run_id")]


def upgrade() -> None:
    op.create_table(
        "mart_input",
        sa.Column("month", sa.String(length=7), nullable=False, comment="YYYY-MM"),
        sa.Column("scope", sa.String(length=96), nullable=False,
                  comment="insured_stats | progress:<province>"),
        sa.Column("inputs", sa.Text(), nullable=False,
                  comment="JSON: counts and last change times of what the figures are counted from"),
        sa.Column("run_id", sa.String(length=64), nullable=False,
                  comment="the national run that counted"),
        sa.PrimaryKeyConstraint("month", "scope"),
    )
    for table, column in RUN_COLUMNS:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in RUN_COLUMNS:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.drop_table("mart_input")

