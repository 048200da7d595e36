"""jinbao serve: accounts (service_user), the signing key (service_setting), the access record
(access_log), four-eyes proposals (review_proposal), the proofs of insurance issued
(proof_document), and persons indexed by name and birth date (the 12333 look-up by name).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_user",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False,
                  comment="caseworker | checker | auditor | operator | admin"),
        sa.Column("password_hash", sa.String(length=256), nullable=False, comment="argon2id"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "service_setting",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False, comment="may be secret (the signing key)"),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "access_log",
        sa.Column("access_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False,
                  comment="login | login_refused | lookup | search | view_case | ..."),
        sa.Column("subject", sa.String(length=96), nullable=True,
                  comment="what was looked at: a masked number, a case id"),
        sa.Column("subject_key", sa.String(length=64), nullable=True,
                  comment="keyed hash (HMAC-SHA256) of the person's number: finds every access "
                          "to them"),
        sa.Column("purpose", sa.String(length=200), nullable=True,
                  comment="why, as the user gave it"),
        sa.Column("outcome", sa.String(length=16), nullable=True,
                  comment="found | not_found | refused | ok"),
        sa.Column("client", sa.String(length=64), nullable=True,
                  comment="the client's address"),
        sa.PrimaryKeyConstraint("access_id"),
    )
    for column in ("at", "user_name", "subject_key"):
        op.create_index(f"ix_access_log_{column}", "access_log", [column])
    op.create_index("ix_person_name_birth_date", "person", ["name", "birth_date"])
    op.create_table(
        "review_proposal",
        sa.Column("proposal_id", sa.String(length=48), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False,
                  comment="merge | keep_apart | pick | confirm | dismiss | undo"),
        sa.Column("detail", sa.Text(), nullable=True,
                  comment="JSON: keep, with, row (what the decision takes)"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False,
                  comment="pending | approved | rejected"),
        sa.Column("checked_by", sa.String(length=64), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("check_note", sa.Text(), nullable=True),
        sa.Column("decision_id", sa.String(length=64), nullable=True,
                  comment="the decision approval applied"),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    op.create_index("ix_review_proposal_case_id", "review_proposal", ["case_id"])
    op.create_table(
        "proof_document",
        sa.Column("code", sa.String(length=24), nullable=False,
                  comment="the verification code printed on it"),
        sa.Column("subject", sa.String(length=32), nullable=False, comment="the masked number"),
        sa.Column("subject_key", sa.String(length=64), nullable=False,
                  comment="keyed hash (HMAC-SHA256) of the person's number"),
        sa.Column("holder", sa.String(length=32), nullable=True, comment="the masked name"),
        sa.Column("content", sa.Text(), nullable=False,
                  comment="JSON: the enrollments it states (scheme, region, status, since)"),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_proof_document_subject_key", "proof_document", ["subject_key"])


def downgrade() -> None:
    op.drop_index("ix_proof_document_subject_key", table_name="proof_document")
    op.drop_table("proof_document")
    op.drop_index("ix_review_proposal_case_id", table_name="review_proposal")
    op.drop_table("review_proposal")
    op.drop_index("ix_person_name_birth_date", table_name="person")
    for column in ("at", "user_name", "subject_key"):
        op.drop_index(f"ix_access_log_{column}", table_name="access_log")
    op.drop_table("access_log")
    op.drop_table("service_setting")
    op.drop_table("service_user")
