"""The national tier: which province a source row and an enrollment come from (NULL in a
province's own warehouse).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COMMENT = "the province warehouse it came from (national tier; NULL in a province's)"


def upgrade() -> None:
    for table in ("source_record", "enrollment"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("province", sa.String(length=64), nullable=True,
                                       comment=COMMENT))


def downgrade() -> None:
    for table in ("enrollment", "source_record"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("province")
