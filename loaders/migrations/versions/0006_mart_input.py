"""What each month's national marts were counted from (mart_input): a national run that changed
nothing keeps the month's figures instead of counting the warehouses again.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    op.drop_table("mart_input")
