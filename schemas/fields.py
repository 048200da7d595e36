"""Field specs of the unified standard (standard/README.md), one definition for rules, GX and DDL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One column of the unified standard."""

    name: str
    """Readable warehouse column name."""
    code: str
    """Ministry information-indicator code (goes in the column comment)."""
    label_zh: str
    kind: str
    """char | varchar | date | timestamp."""
    length: int | None = None
    nullable: bool = True
    code_table: str | None = None
    """Name of the unified code table the value must come from."""
    pattern: str | None = None
    """Regular expression a non-null value must match in full."""


ID_PATTERN = r"^\d{17}[\dX]$"

PERSON = (
    Field("id_number", "AAC002", "公民身份号码", "char", 18, False, pattern=ID_PATTERN),
    Field("name", "AAC003", "姓名", "varchar", 50, False),
    Field("sex", "AAC004", "性别", "char", 1, False, code_table="sex"),
    Field("ethnicity", "AAC005", "民族", "char", 2, True, code_table="ethnicity"),
    Field("birth_date", "AAC006", "出生日期", "date", None, False),
    Field("birth_region", "", "出生地行政区划", "char", 6, False, pattern=r"^\d{6}$"),
)

ENROLLMENT = (
    Field("id_number", "AAC002", "公民身份号码", "char", 18, False, pattern=ID_PATTERN),
    Field("scheme", "AAE140", "险种类型", "char", 3, False, code_table="scheme"),
    Field("pooling_region", "AAB301", "统筹区编码", "char", 6, False, pattern=r"^\d{6}$"),
    Field("status", "AAC008", "参保状态", "char", 1, False, code_table="enrollment_status"),
    Field("pay_status", "AAC031", "个人缴费状态", "char", 1, True, code_table="pay_status"),
    Field("employer_id", "AAB001", "单位编号", "varchar", 20, True),
    Field("enrolled_on", "AAC030", "本次参保日期", "date", None, True),
    Field("updated_at", "AAE396", "更新时间", "timestamp", None, True),
)

# The standardised source row: the person attributes as the row states them, plus its enrollment.
SOURCE_ROW = PERSON[:5] + ENROLLMENT[1:]
