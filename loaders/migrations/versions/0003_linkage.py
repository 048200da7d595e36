"""Probabilistic linkage: the entities it compares (match_entity, with the derived comparison
columns) and its trained models (match_model, Splink's JSON by version).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("id_number", "id_area", "id_birth", "id_tail", "name_key", "name_pinyin", "surname",
           "given", "surname_pinyin", "name_tokens", "name_chars", "birth", "birth_ym", "birth_yd",
           "sex", "region", "employer")
INDEXED = ("name_key", "region", "employer")
KEYS = (("id_area", "id_birth"), ("id_area", "id_tail"), ("birth", "surname_pinyin", "sex"),
        ("name_pinyin", "birth_ym"), ("name_pinyin", "birth_yd"), ("birth", "given"),
        ("name_key", "id_area"), ("name_key", "id_birth"))


def upgrade() -> None:
    op.create_table(
        "match_entity",
        sa.Column("unique_id", sa.String(), nullable=False, comment="the person's number, or system|key"),
        sa.Column("is_person", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.String(), nullable=True) for name in COLUMNS),
        sa.Column("updated_run", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("unique_id"),
        comment="may hold personal data: the comparison columns of every entity",
    )
    for name in INDEXED:
        op.create_index(op.f(f"ix_match_entity_{name}"), "match_entity", [name], unique=False)
    for key in KEYS:
        op.create_index("ix_match_entity_" + "_".join(key), "match_entity", list(key),
                        unique=False)
    op.create_table(
        "match_model",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.Column("trained_run", sa.String(length=64), nullable=False),
        sa.Column("entities", sa.BigInteger(), nullable=False, comment="entities it was trained on"),
        sa.Column("threshold", sa.Float(), nullable=False, comment="match probability a case needs"),
        sa.Column("model", sa.Text(), nullable=False, comment="Splink's model JSON (no personal data)"),
        sa.PrimaryKeyConstraint("version"),
    )
    # an incremental match finds the cases about the entities it changed by their rows
    op.create_index(op.f("ix_review_case_row_id_number"), "review_case_row", ["id_number"],
                    unique=False)
    op.create_index("ix_review_case_row_source", "review_case_row",
                    ["source_system", "source_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_review_case_row_source", table_name="review_case_row")
    op.drop_index(op.f("ix_review_case_row_id_number"), table_name="review_case_row")
    op.drop_table("match_model")
    for name in INDEXED:
        op.drop_index(op.f(f"ix_match_entity_{name}"), table_name="match_entity")
    for key in KEYS:
        op.drop_index("ix_match_entity_" + "_".join(key), table_name="match_entity")
    op.drop_table("match_entity")
