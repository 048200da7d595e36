"""Warehouse tables of the contract (DESIGN.md), as SQLAlchemy metadata: the one source of the DDL."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from schemas.fields import ENROLLMENT, PERSON, SOURCE_ROW, Field

metadata = MetaData()
PROVINCE = "the province warehouse it came from (national tier; NULL in a province's)"

_TYPES = {"date": Date, "timestamp": DateTime}


def _column(field: Field, primary_key: bool, lenient: bool) -> Column:
    length = None if lenient else field.length  # a rejected row may hold anything
    kind = _TYPES[field.kind]() if field.kind in _TYPES else String(length)
    comment = " ".join(p for p in (field.code, field.label_zh) if p)
    nullable = not primary_key and (field.nullable or lenient)
    return Column(field.name, kind, primary_key=primary_key, nullable=nullable, comment=comment)


def _fields(fields: tuple[Field, ...], keys: tuple[str, ...], lenient: bool = False) -> list[Column]:
    """Columns of the field specs; `lenient`: any length, NULL anywhere (rows as the source had
    them, rejected ones included)."""
    return [_column(f, f.name in keys, lenient) for f in fields]


def _provenance() -> list[Column]:
    """Which source row supplied each golden attribute ('id_number': the ID itself)."""
    return [Column(f"{a}_source", String(), comment=f"source_system|source_key of the {a}")
            for a in ("name", "sex", "ethnicity", "birth_date")]


person = Table(
    "person", metadata,
    *_fields(PERSON, ("id_number",)),
    Column("bucket", Integer, nullable=False),
    Column("source_rows", Integer, nullable=False, comment="source rows merged into this person"),
    *_provenance(),
    Column("valid_from", DateTime, nullable=False),
    # indexed: a run's matching reads the persons it wrote, not every person
    Column("created_run", String(64), nullable=False, index=True),
    Column("updated_run", String(64), nullable=False, index=True),
    # the 12333 look-up by name and birth date
    Index("ix_person_name_birth_date", "name", "birth_date"),
)

person_history = Table(
    "person_history", metadata,
    *_fields(PERSON, ("id_number",)),
    Column("valid_from", DateTime, primary_key=True),
    Column("valid_to", DateTime, nullable=False),
    Column("source_rows", Integer),
    *_provenance(),
    Column("run_id", String(64), nullable=False, index=True,
           comment="run that replaced this version"),
)

enrollment = Table(
    "enrollment", metadata,
    *_fields(ENROLLMENT, ("id_number", "scheme", "pooling_region")),
    Column("source_system", String(64), nullable=False),
    Column("source_key", String(), nullable=False),
    Column("source_rows", Integer, nullable=False, comment="files merged into this enrollment"),
    Column("run_id", String(64), nullable=False),
    Column("province", String(64), comment=PROVINCE),
)

source_record = Table(
    "source_record", metadata,
    Column("source_system", String(64), primary_key=True),
    Column("source_key", String(), primary_key=True),
    Column("row_hash", BigInteger, nullable=False),
    Column("outcome", String(12), nullable=False, comment="accepted | quarantined"),
    Column("id_number", String(18), index=True, comment="the person it belongs to; NULL if quarantined"),
    Column("bucket", Integer),
    Column("claimed_id", String(18), index=True,
           comment="the 18-character number the row claims, repaired, even when it fails a rule"),
    Column("id_repairs", String(), comment="repairs applied to the ID as read"),
    *_fields(SOURCE_ROW[1:], (), lenient=True),
    Column("watermark", String(32)),
    # indexed: the national tier reads a province's rows by the runs that wrote them, and a
    # run's matching reads the rows it wrote
    Column("run_id", String(64), nullable=False, index=True),
    Column("province", String(64), comment=PROVINCE),
)

quarantine = Table(
    "quarantine", metadata,
    Column("source_system", String(64), primary_key=True),
    Column("source_key", String(), primary_key=True),
    Column("rule", String(64), primary_key=True),
    Column("detail", Text),
    Column("raw_row", Text, comment="the row as extracted, JSON; may hold personal data"),
    Column("run_id", String(64), nullable=False),
)

review_case = Table(
    "review_case", metadata,
    Column("case_id", String(64), primary_key=True, comment="kind-hash of its subject: stable"),
    Column("kind", String(32), nullable=False,
           comment="attribute_conflict | suspected_duplicate | duplicate_enrollment"),
    Column("id_number", String(18), index=True, comment="the person the case is about"),
    Column("id_numbers", Text, nullable=False, comment="JSON list of the ID numbers involved"),
    Column("attribute", String(32), comment="attribute_conflict: name | sex | birth_date"),
    Column("score", Float, comment="suspected_duplicate: match weight (log2 odds)"),
    Column("evidence", Text, comment="JSON: values and source rows; may hold personal data"),
    Column("rows_digest", String(16), comment="digest of the case's source rows"),
    Column("status", String(16), nullable=False, comment="open | resolved | withdrawn"),
    Column("decision", Text, comment="JSON: what a reviewer decided, by whom, when"),
    Column("opened_run", String(64), nullable=False),
    Column("updated_run", String(64), nullable=False),
)

# The source rows each case concerns.
review_case_row = Table(
    "review_case_row", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("source_system", String(64), primary_key=True),
    Column("source_key", String(), primary_key=True),
    Column("id_number", String(18), index=True, comment="the ID the row belongs to, or claims"),
    Index("ix_review_case_row_source", "source_system", "source_key"),
)

# Every decision a reviewer took, in order; an undone one keeps its row (undone_at set).
review_decision = Table(
    "review_decision", metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("decision", String(16), nullable=False,
           comment="merge | keep_apart | pick | confirm | dismiss"),
    Column("detail", Text, comment="JSON: what it changed, enough to undo it exactly"),
    Column("decided_by", String(64), nullable=False),
    Column("note", Text),
    Column("decided_at", DateTime, nullable=False),
    Column("undone_at", DateTime),
)

# A merge decision: these source rows belong to this person, whatever their own number says.
identity_override = Table(
    "identity_override", metadata,
    Column("source_system", String(64), primary_key=True),
    Column("source_key", String(), primary_key=True),
    Column("id_number", String(18), nullable=False),
    Column("case_id", String(64), nullable=False),
)

# A pick decision: this person's attribute comes from this source row.
attribute_override = Table(
    "attribute_override", metadata,
    Column("id_number", String(18), primary_key=True),
    Column("attribute", String(32), primary_key=True),
    Column("source_system", String(64), nullable=False),
    Column("source_key", String(), nullable=False),
    Column("case_id", String(64), nullable=False),
)

run_ledger = Table(
    "run_ledger", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("source_name", String(64), primary_key=True),
    Column("window_since", String(32)),
    Column("window_until", String(32)),
    Column("extracted", BigInteger, nullable=False),
    Column("accepted", BigInteger, nullable=False),
    Column("quarantined", BigInteger, nullable=False),
    Column("new_watermark", String(32)),
    Column("seconds", Float),
    Column("status", String(16), nullable=False),
    Column("finished_at", DateTime),
    Column("new_rows", BigInteger, comment="source rows the warehouse had never held"),
    Column("changed_rows", BigInteger, comment="source rows whose content changed"),
    Column("detail", Text, comment="JSON: rows by rule and by ID repair, exports skipped, warnings"),
)

# Why a run, or one source of it, did not finish: one sentence, no personal data.
run_failure = Table(
    "run_failure", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("source_name", String(64), primary_key=True, comment="'' when not one source's"),
    Column("stage", String(32), nullable=False, comment="stage | load | finish | run"),
    Column("failed_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

# What each run read, per source and pooling region: the report's breakdowns and its scope.
run_stat = Table(
    "run_stat", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("source_name", String(64), primary_key=True),
    Column("pooling_region", String(6), primary_key=True,
           comment="GB/T 2260 code; '' where the row has no valid one"),
    Column("measure", String(16), primary_key=True,
           comment="extracted | accepted | quarantined | rule | repair"),
    Column("item", String(64), primary_key=True, comment="the rule or ID repair; '' for rows"),
    Column("rows", BigInteger, nullable=False),
)

# What each load wrote: rows new to the warehouse and rows changed, per bucket (-1: the
# source's quarantined rows), source and pooling region. Written in the load's transaction.
run_load = Table(
    "run_load", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("bucket", Integer, primary_key=True),
    Column("source_name", String(64), primary_key=True),
    Column("pooling_region", String(6), primary_key=True),
    Column("new_rows", BigInteger, nullable=False),
    Column("changed_rows", BigInteger, nullable=False),
)

watermark = Table(
    "watermark", metadata,
    Column("source_name", String(64), primary_key=True),
    Column("value", String(32), nullable=False),
    Column("run_id", String(64), nullable=False),
)

# Progress of `jinbao backfill`: a slice is committed once its run finished (for resuming).
backfill_slice = Table(
    "backfill_slice", metadata,
    Column("backfill_id", String(64), primary_key=True),
    Column("slice", String(10), primary_key=True, comment="YYYY-MM, or YYYY-MM-DD for a daily slice"),
    Column("window_since", String(32), nullable=False),
    Column("window_until", String(32), nullable=False),
    Column("sources", Text, nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("extracted", BigInteger, nullable=False),
    Column("accepted", BigInteger, nullable=False),
    Column("quarantined", BigInteger, nullable=False),
    Column("seconds", Float),
)

# What linkage compares: one row per entity (a person, or a row quarantined for its ID number),
# with the derived columns the comparisons and blocking rules read (transforms.linkage).
MATCH_KEYS = (("id_area", "id_birth"), ("id_area", "id_tail"), ("birth", "surname_pinyin", "sex"),
              ("name_pinyin", "birth_ym"), ("name_pinyin", "birth_yd"), ("birth", "given"),
              ("name_key", "id_area"), ("name_key", "id_birth"))
"""The blocking keys (transforms.linkage.model.BLOCK_KEYS), each an index: an incremental match
joins the changed entities' keys on them."""
match_entity = Table(
    "match_entity", metadata,
    Column("unique_id", String(), primary_key=True, comment="the person's number, or system|key"),
    Column("is_person", Integer, nullable=False),
    # indexed alone: the term-frequency columns, whose counts an incremental match looks up
    *(Column(name, String(), index=name in ("name_key", "region", "employer"))
      for name in ("id_number", "id_area", "id_birth", "id_tail", "name_key", "name_pinyin",
                   "surname", "given", "surname_pinyin", "name_tokens", "name_chars", "birth",
                   "birth_ym", "birth_yd", "sex", "region", "employer")),
    Column("updated_run", String(64), nullable=False),
    *(Index("ix_match_entity_" + "_".join(key), *key) for key in MATCH_KEYS),
    comment="may hold personal data: the comparison columns of every entity",
)

# The trained linkage models, newest last: Splink's JSON, with the run that trained it.
match_model = Table(
    "match_model", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("trained_at", DateTime, nullable=False),
    Column("trained_run", String(64), nullable=False),
    Column("entities", BigInteger, nullable=False, comment="entities it was trained on"),
    Column("threshold", Float, nullable=False, comment="match probability a case needs"),
    Column("model", Text, nullable=False, comment="Splink's model JSON (no personal data)"),
)

# Internal: people whose source rows changed and whose golden record awaits recomputation.
dirty_person = Table(
    "dirty_person", metadata,
    Column("id_number", String(18), primary_key=True),
    Column("bucket", Integer, nullable=False, index=True),
)

CONTRACT_TABLES = (
    "person", "person_history", "enrollment", "source_record", "quarantine",
    "review_case", "run_ledger", "watermark",
)


# The national tier's monthly progress (月调度): per month and province, the figures the ministry
# tracks, as the last national run of the month found them. No personal data: counts only.
monthly_progress = Table(
    "monthly_progress", metadata,
    Column("month", String(7), primary_key=True, comment="YYYY-MM"),
    Column("province", String(64), primary_key=True),
    Column("measure", String(32), primary_key=True,
           comment="persons | coverage | runs | rows_read | rows_quarantined | rows_loaded | "
                   "quarantine_rate | open_cases | national_cases | last_load | status"),
    Column("item", String(64), primary_key=True,
           comment="scheme, rule, age band or case kind; '' for none"),
    Column("value", Float, comment="the figure (a rate as a share of 1)"),
    Column("text", String(64), comment="last_load: a time; status: ok | late | missing | unreachable"),
    Column("run_id", String(64), nullable=False, comment="the national run that found it"),
)


# What a month's marts were last counted from (national tier): a run that changed nothing
# finds the same inputs and keeps the figures, rather than counting the warehouse again.
mart_input = Table(
    "mart_input", metadata,
    Column("month", String(7), primary_key=True, comment="YYYY-MM"),
    Column("scope", String(96), primary_key=True,
           comment="insured_stats | progress:<province>"),
    Column("inputs", Text, nullable=False,
           comment="JSON: counts and last change times of what the figures are counted from"),
    Column("run_id", String(64), nullable=False, comment="the national run that counted"),
)


# Macro statistics (宏观决策): insured persons by month, province, pooling region, scheme, age
# band and sex, with the change since the month before; for analysts and BI tools.
insured_stats = Table(
    "insured_stats", metadata,
    Column("month", String(7), primary_key=True,
           comment="YYYY-MM: as the month's last national run found it"),
    Column("province", String(64), primary_key=True),
    Column("pooling_region", String(6), primary_key=True, comment="GB/T 2260 code"),
    Column("scheme", String(3), primary_key=True, comment="AAE140 code"),
    Column("age_band", String(8), primary_key=True,
           comment="age at the month's end: <18, 18-29 ... 70+, unknown"),
    Column("sex", String(1), primary_key=True, comment="GB/T 2261.1: 1 male, 2 female, 0/9 unknown"),
    Column("persons", BigInteger, nullable=False, comment="persons actively enrolled"),
    Column("change", BigInteger, comment="persons minus the month before's (NULL: no month before)"),
    Column("run_id", String(64), nullable=False, comment="the national run that counted"),
)


# jinbao serve: its accounts, the key that signs their logins, and the record of every look-up
# and every view of personal data (who, when, why, what: a masked number, and a keyed hash of
# it that finds every access to one person without the record holding the number).
service_user = Table(
    "service_user", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False,
           comment="caseworker | checker | auditor | operator | admin"),
    Column("password_hash", String(256), nullable=False, comment="argon2id"),
    Column("created_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),
)

service_setting = Table(
    "service_setting", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False, comment="may be secret (the signing key)"),
)

access_log = Table(
    "access_log", metadata,
    Column("access_id", String(40), primary_key=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("user_name", String(64), nullable=False, index=True),
    Column("role", String(16)),
    Column("action", String(32), nullable=False,
           comment="login | login_refused | lookup | search | view_case | ..."),
    Column("subject", String(96), comment="what was looked at: a masked number, a case id"),
    Column("subject_key", String(64), index=True,
           comment="keyed hash (HMAC-SHA256) of the person's number: finds every access to them"),
    Column("purpose", String(200), comment="why, as the user gave it"),
    Column("outcome", String(16), comment="found | not_found | refused | ok"),
    Column("client", String(64), comment="the client's address"),
)

# Four eyes: a decision a caseworker proposes is applied only when a checker, another person,
# approves it (then it is a review_decision like any other).
review_proposal = Table(
    "review_proposal", metadata,
    Column("proposal_id", String(48), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("decision", String(16), nullable=False,
           comment="merge | keep_apart | pick | confirm | dismiss | undo"),
    Column("detail", Text, comment="JSON: keep, with, row (what the decision takes)"),
    Column("note", Text),
    Column("proposed_by", String(64), nullable=False),
    Column("proposed_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False, comment="pending | approved | rejected"),
    Column("checked_by", String(64)),
    Column("checked_at", DateTime),
    Column("check_note", Text),
    Column("decision_id", String(64), comment="the decision approval applied"),
)

# Proofs of insurance (参保证明) the service issued: what a verification code answers. Of the
# person only the masked number and name, and the keyed hash of the number.
proof_document = Table(
    "proof_document", metadata,
    Column("code", String(24), primary_key=True, comment="the verification code printed on it"),
    Column("subject", String(32), nullable=False, comment="the masked number"),
    Column("subject_key", String(64), nullable=False, index=True,
           comment="keyed hash (HMAC-SHA256) of the person's number"),
    Column("holder", String(32), comment="the masked name"),
    Column("content", Text, nullable=False,
           comment="JSON: the enrollments it states (scheme, region, status, since)"),
    Column("issued_at", DateTime, nullable=False),
    Column("issued_by", String(64), nullable=False),
)
