"""Baseline: the warehouse as jinbao 0.1 created it (main before migrations existed).

A warehouse that predates migrations has these tables and no alembic_version; `jinbao db
upgrade` stamps it at this revision, then upgrades it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attribute_override',
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('attribute', sa.String(length=32), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id_number', 'attribute')
    )
    op.create_table('backfill_slice',
    sa.Column('backfill_id', sa.String(length=64), nullable=False),
    sa.Column('slice', sa.String(length=10), nullable=False, comment='YYYY-MM, or YYYY-MM-DD for a daily slice'),
    sa.Column('window_since', sa.String(length=32), nullable=False),
    sa.Column('window_until', sa.String(length=32), nullable=False),
    sa.Column('sources', sa.Text(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('extracted', sa.BigInteger(), nullable=False),
    sa.Column('accepted', sa.BigInteger(), nullable=False),
    sa.Column('quarantined', sa.BigInteger(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('backfill_id', 'slice')
    )
    op.create_table('dirty_person',
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id_number')
    )
    op.create_index(op.f('ix_dirty_person_bucket'), 'dirty_person', ['bucket'], unique=False)
    op.create_table('enrollment',
    sa.Column('id_number', sa.String(length=18), nullable=False, comment='AAC002 公民身份号码'),
    sa.Column('scheme', sa.String(length=3), nullable=False, comment='AAE140 险种类型'),
    sa.Column('pooling_region', sa.String(length=6), nullable=False, comment='AAB301 统筹区编码'),
    sa.Column('status', sa.String(length=1), nullable=False, comment='AAC008 参保状态'),
    sa.Column('pay_status', sa.String(length=1), nullable=True, comment='AAC031 个人缴费状态'),
    sa.Column('employer_id', sa.String(length=20), nullable=True, comment='AAB001 单位编号'),
    sa.Column('enrolled_on', sa.Date(), nullable=True, comment='AAC030 本次参保日期'),
    sa.Column('updated_at', sa.DateTime(), nullable=True, comment='AAE396 更新时间'),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(), nullable=False),
    sa.Column('source_rows', sa.Integer(), nullable=False, comment='files merged into this enrollment'),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id_number', 'scheme', 'pooling_region')
    )
    op.create_table('identity_override',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key')
    )
    op.create_table('person',
    sa.Column('id_number', sa.String(length=18), nullable=False, comment='AAC002 公民身份号码'),
    sa.Column('name', sa.String(length=50), nullable=False, comment='AAC003 姓名'),
    sa.Column('sex', sa.String(length=1), nullable=False, comment='AAC004 性别'),
    sa.Column('ethnicity', sa.String(length=2), nullable=True, comment='AAC005 民族'),
    sa.Column('birth_date', sa.Date(), nullable=False, comment='AAC006 出生日期'),
    sa.Column('birth_region', sa.String(length=6), nullable=False, comment='出生地行政区划'),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('source_rows', sa.Integer(), nullable=False, comment='source rows merged into this person'),
    sa.Column('name_source', sa.String(), nullable=True, comment='source_system|source_key of the name'),
    sa.Column('sex_source', sa.String(), nullable=True, comment='source_system|source_key of the sex'),
    sa.Column('ethnicity_source', sa.String(), nullable=True, comment='source_system|source_key of the ethnicity'),
    sa.Column('birth_date_source', sa.String(), nullable=True, comment='source_system|source_key of the birth_date'),
    sa.Column('valid_from', sa.DateTime(), nullable=False),
    sa.Column('created_run', sa.String(length=64), nullable=False),
    sa.Column('updated_run', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id_number')
    )
    op.create_table('person_history',
    sa.Column('id_number', sa.String(length=18), nullable=False, comment='AAC002 公民身份号码'),
    sa.Column('name', sa.String(length=50), nullable=False, comment='AAC003 姓名'),
    sa.Column('sex', sa.String(length=1), nullable=False, comment='AAC004 性别'),
    sa.Column('ethnicity', sa.String(length=2), nullable=True, comment='AAC005 民族'),
    sa.Column('birth_date', sa.Date(), nullable=False, comment='AAC006 出生日期'),
    sa.Column('birth_region', sa.String(length=6), nullable=False, comment='出生地行政区划'),
    sa.Column('valid_from', sa.DateTime(), nullable=False),
    sa.Column('valid_to', sa.DateTime(), nullable=False),
    sa.Column('source_rows', sa.Integer(), nullable=True),
    sa.Column('name_source', sa.String(), nullable=True, comment='source_system|source_key of the name'),
    sa.Column('sex_source', sa.String(), nullable=True, comment='source_system|source_key of the sex'),
    sa.Column('ethnicity_source', sa.String(), nullable=True, comment='source_system|source_key of the ethnicity'),
    sa.Column('birth_date_source', sa.String(), nullable=True, comment='source_system|source_key of the birth_date'),
    sa.Column('run_id', sa.String(length=64), nullable=False, comment='run that replaced this version'),
    sa.PrimaryKeyConstraint('id_number', 'valid_from')
    )
    op.create_table('quarantine',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('raw_row', sa.Text(), nullable=True, comment='the row as extracted, JSON; may hold personal data'),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', 'rule')
    )
    op.create_table('review_case',
    sa.Column('case_id', sa.String(length=64), nullable=False, comment='kind-hash of its subject: stable'),
    sa.Column('kind', sa.String(length=32), nullable=False, comment='attribute_conflict | suspected_duplicate | duplicate_enrollment'),
    sa.Column('id_number', sa.String(length=18), nullable=True, comment='the person the case is about'),
    sa.Column('id_numbers', sa.Text(), nullable=False, comment='JSON list of the ID numbers involved'),
    sa.Column('attribute', sa.String(length=32), nullable=True, comment='attribute_conflict: name | sex | birth_date'),
    sa.Column('score', sa.Float(), nullable=True, comment='suspected_duplicate: match weight (log2 odds)'),
    sa.Column('evidence', sa.Text(), nullable=True, comment='JSON: values and source rows; may hold personal data'),
    sa.Column('rows_digest', sa.String(length=16), nullable=True, comment="digest of the case's source rows"),
    sa.Column('status', sa.String(length=16), nullable=False, comment='open | resolved | withdrawn'),
    sa.Column('decision', sa.Text(), nullable=True, comment='JSON: what a reviewer decided, by whom, when'),
    sa.Column('opened_run', sa.String(length=64), nullable=False),
    sa.Column('updated_run', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('case_id')
    )
    op.create_index(op.f('ix_review_case_id_number'), 'review_case', ['id_number'], unique=False)
    op.create_table('review_case_row',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=True, comment='the ID the row belongs to, or claims'),
    sa.PrimaryKeyConstraint('case_id', 'source_system', 'source_key')
    )
    op.create_table('review_decision',
    sa.Column('decision_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False, comment='merge | keep_apart | pick | confirm | dismiss'),
    sa.Column('detail', sa.Text(), nullable=True, comment='JSON: what it changed, enough to undo it exactly'),
    sa.Column('decided_by', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('undone_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('decision_id')
    )
    op.create_index(op.f('ix_review_decision_case_id'), 'review_decision', ['case_id'], unique=False)
    op.create_table('run_ledger',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('source_name', sa.String(length=64), nullable=False),
    sa.Column('window_since', sa.String(length=32), nullable=True),
    sa.Column('window_until', sa.String(length=32), nullable=True),
    sa.Column('extracted', sa.BigInteger(), nullable=False),
    sa.Column('accepted', sa.BigInteger(), nullable=False),
    sa.Column('quarantined', sa.BigInteger(), nullable=False),
    sa.Column('new_watermark', sa.String(length=32), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'source_name')
    )
    op.create_table('source_record',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(), nullable=False),
    sa.Column('row_hash', sa.BigInteger(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False, comment='accepted | quarantined'),
    sa.Column('id_number', sa.String(length=18), nullable=True, comment='the person it belongs to; NULL if quarantined'),
    sa.Column('bucket', sa.Integer(), nullable=True),
    sa.Column('claimed_id', sa.String(length=18), nullable=True, comment='the 18-character number the row claims, repaired, even when it fails a rule'),
    sa.Column('id_repairs', sa.String(), nullable=True, comment='repairs applied to the ID as read'),
    sa.Column('name', sa.String(), nullable=True, comment='AAC003 姓名'),
    sa.Column('sex', sa.String(), nullable=True, comment='AAC004 性别'),
    sa.Column('ethnicity', sa.String(), nullable=True, comment='AAC005 民族'),
    sa.Column('birth_date', sa.Date(), nullable=True, comment='AAC006 出生日期'),
    sa.Column('scheme', sa.String(), nullable=True, comment='AAE140 险种类型'),
    sa.Column('pooling_region', sa.String(), nullable=True, comment='AAB301 统筹区编码'),
    sa.Column('status', sa.String(), nullable=True, comment='AAC008 参保状态'),
    sa.Column('pay_status', sa.String(), nullable=True, comment='AAC031 个人缴费状态'),
    sa.Column('employer_id', sa.String(), nullable=True, comment='AAB001 单位编号'),
    sa.Column('enrolled_on', sa.Date(), nullable=True, comment='AAC030 本次参保日期'),
    sa.Column('updated_at', sa.DateTime(), nullable=True, comment='AAE396 更新时间'),
    sa.Column('watermark', sa.String(length=32), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key')
    )
    op.create_index(op.f('ix_source_record_claimed_id'), 'source_record', ['claimed_id'], unique=False)
    op.create_index(op.f('ix_source_record_id_number'), 'source_record', ['id_number'], unique=False)
    op.create_table('watermark',
    sa.Column('source_name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('source_name')
    )


def downgrade() -> None:
    op.drop_table('watermark')
    op.drop_table('source_record')
    op.drop_table('run_ledger')
    op.drop_table('review_decision')
    op.drop_table('review_case_row')
    op.drop_table('review_case')
    op.drop_table('quarantine')
    op.drop_table('person_history')
    op.drop_table('person')
    op.drop_table('identity_override')
    op.drop_table('enrollment')
    op.drop_table('dirty_person')
    op.drop_table('backfill_slice')
    op.drop_table('attribute_override')
