"""The national tier's monthly progress (月调度) and macro statistics (宏观决策):
monthly_progress, insured_stats.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monthly_progress",
        sa.Column("month", sa.String(length=7), nullable=False, comment="YYYY-MM"),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False,
                  comment="persons | coverage | runs | rows_read | rows_quarantined | rows_loaded | "
                          "quarantine_rate | open_cases | national_cases | last_load | status"),
        sa.Column("item", sa.String(length=64), nullable=False,
                  comment="scheme, rule, age band or case kind; '' for none"),
        sa.Column("value", sa.Float(), nullable=True, comment="the figure (a rate as a share of 1)"),
        sa.Column("text", sa.String(length=64), nullable=True,
                  comment="last_load: a time; status: ok | late | missing | unreachable"),
        sa.Column("run_id", sa.String(length=64), nullable=False,
                  comment="the national run that found it"),
        sa.PrimaryKeyConstraint("month", "province", "measure", "item"),
    )
    op.create_table(
        "insured_stats",
        sa.Column("month", sa.String(length=7), nullable=False,
                  comment="YYYY-MM: as the month's last national run found it"),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("pooling_region", sa.String(length=6), nullable=False, comment="GB/T 2260 code"),
        sa.Column("scheme", sa.String(length=3), nullable=False, comment="AAE140 code"),
        sa.Column("age_band", sa.String(length=8), nullable=False,
                  comment="age at the month's end: <18, 18-29 ... 70+, unknown"),
        sa.Column("sex", sa.String(length=1), nullable=False,
                  comment="GB/T 2261.1: 1 male, 2 female, 0/9 unknown"),
        sa.Column("persons", sa.BigInteger(), nullable=False, comment="persons actively enrolled"),
        sa.Column("change", sa.BigInteger(), nullable=True,
                  comment="persons minus the month before's (NULL: no month before)"),
        sa.Column("run_id", sa.String(length=64), nullable=False,
                  comment="the national run that counted"),
        sa.PrimaryKeyConstraint("month", "province", "pooling_region", "scheme", "age_band",
                                "sex"),
    )


def downgrade() -> None:
    op.drop_table("insured_stats")
    op.drop_table("monthly_progress")
