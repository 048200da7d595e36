"""The legacy systems' tables exactly as legacy-estate/README.md defines them (SQLAlchemy metadata).

The extractors read them; the estate simulator creates and fills them.
"""

from __future__ import annotations

from sqlalchemy import CHAR, BigInteger, Column, Date, DateTime, MetaData, String, Table, Text

pension_md = MetaData()
ac01 = Table(
    "ac01", pension_md,
    Column("aac001", BigInteger, primary_key=True, autoincrement=False),
    Column("aac002", String(24)),
    Column("aac003", String(40)),
    Column("aac004", CHAR(1)),
    Column("aac005", String(2)),
    Column("aac006", String(8)),
    Column("aab001", String(20)),
    Column("aab301", CHAR(6)),
    Column("aae036", DateTime),
)
ac02 = Table(
    "ac02", pension_md,
    Column("aac001", BigInteger, primary_key=True, autoincrement=False),
    Column("aae140", CHAR(3), primary_key=True),
    Column("aac008", CHAR(1)),
    Column("aac031", CHAR(1)),
    Column("aac030", String(8)),
    Column("aae036", DateTime),
)

medical_md = MetaData()
mi_insured = Table(
    "mi_insured", medical_md,
    Column("psn_no", String(30), primary_key=True),
    Column("certno", String(30)),
    Column("psn_cert_type", CHAR(2)),
    Column("psn_name", String(50)),
    Column("gend", CHAR(1)),
    Column("naty", String(10)),
    Column("brdy", Date),
    Column("insutype", CHAR(3)),
    Column("psn_insu_stas", CHAR(1)),
    Column("emp_no", String(30)),
    Column("admdvs", CHAR(6)),
    Column("updt_time", DateTime),
    mysql_charset="gbk",
)

unemployment_md = MetaData()
UNEMPLOYMENT_COLUMNS = (
    "个人编号", "姓名", "身份证号", "性别", "出生日期", "民族", "单位名称", "参保状态", "统筹区", "修改时间",
)
unemployment_insured = Table(
    "失业参保人员", unemployment_md,
    *(Column(name, Text, primary_key=(name == "个人编号")) for name in UNEMPLOYMENT_COLUMNS),
)

maternity_md = MetaData()
sy_cbry = Table(
    "sy_cbry", maternity_md,
    Column("grbh", String(20), primary_key=True),
    Column("sfzh", String(24)),
    Column("xm", String(40)),
    Column("xb", CHAR(1)),
    Column("csrq", Date),
    Column("cbzt", CHAR(1)),
    Column("dwbh", String(20)),
    Column("tcq", CHAR(6)),
    Column("gxsj", DateTime),
)

INJURY_COLUMNS = ("序号", "姓名", "证件号码", "性别", "出生日期", "单位编号", "参保状态", "统筹区", "变更时间")

METADATA = {
    "pension": pension_md,
    "medical": medical_md,
    "unemployment": unemployment_md,
    "maternity": maternity_md,
}
