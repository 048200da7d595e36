"""The estate simulator: five legacy systems as legacy-estate/README.md defines them, with ground truth.

Deterministic per seed. Every damage of the catalogue is injected at the rate in DAMAGE_RATES and
logged in `damage.csv` (source_system, source_key, damage) beside `truth.csv`, so tests can measure
what the pipeline did with each kind of damage.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from extractors.legacy_tables import (
    INJURY_COLUMNS,
    METADATA,
    UNEMPLOYMENT_COLUMNS,
    sy_cbry,
    unemployment_insured,
)
from schemas.codes import area_codes, code_table

# Probability that one row (or, for cosmetic ID damage, one ID) carries each damage.
DAMAGE_RATES = {
    "id_missing": 0.01,
    "id_placeholder": 0.005,
    "id_typo": 0.01,  # one mistyped digit
    "id_swap": 0.01,  # two adjacent digits swapped
    "id_fullwidth": 0.02,
    "id_spaces": 0.03,
    "id_trailing_junk": 0.01,
    "id_lowercase_x": 0.5,  # of the numbers whose check character is X
    "id_15_digit_old_system": 0.4,  # pension and unemployment, people born before 1985
    "id_15_digit_other": 0.05,  # other systems, people born before 1985
    "attr_disagrees_with_id": 0.01,  # the row's sex or birth date contradicts a valid ID
    "name_traditional": 0.03,
    "name_fullwidth_space": 0.01,
    "name_trailing_space": 0.03,
    "name_dot_variant": 0.5,  # of minority names with a middle dot
    "name_hostile": 0.003,
    "date_zero": 0.01,  # '00000000' birth date (pension)
    "date_impossible": 0.005,
    "enrolled_in_future": 0.003,
    "enrolled_before_birth": 0.003,
    "row_empty": 0.002,
    "non_resident_cert": 0.005,  # medical rows whose certificate is a passport
    "second_file": 0.05,  # 一人多档: a second file of the person in the same system
    "duplicate_enrollment": 0.3,  # of second files: in another city, both active (重复参保)
    "csv_broken_row": 0.005,
    "csv_truncated_file": 0.2,  # of injury files: the last line is cut short
}
# A rare character (not in GBK) in names; the GBK medical system turns it into '?'.
RARE_CHARS = "𬱖𬘡䶮𰻝𬌗"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉龙东宝凤文志海波晨欣怡子轩浩宇梓涵"
MINORITY_NAMES = (("阿依古丽", "买买提", "05"), ("热依拉", "艾力", "05"), ("巴特尔", "其其格", "02"),
                  ("扎西", "卓玛", "04"), ("古丽娜", "吐尔逊", "05"))
TRADITIONAL = str.maketrans("张陈刘杨黄赵吴孙马丽华国军伟红兰凤龙东宝叶苏邓许韩冯罗郑谢",
                            "張陳劉楊黃趙吳孫馬麗華國軍偉紅蘭鳳龍東寶葉蘇鄧許韓馮羅鄭謝")
HOSTILE = ("{name}'; DROP TABLE person;--", '{name}" OR "1"="1', "{name}\x07\x1b[2J",
           "{name};DELETE FROM ac01", "<script>alert('{name}')</script>", "{name}\r\n,\"quoted,\"")
CITIES = ("440100", "440300", "440600")
INJURY_MONTHS = ("2024-10", "2024-11", "2024-12")
EPOCH = datetime(2019, 1, 1)
AS_OF = datetime(2024, 12, 31, 23, 0)
ENROLL_RATE = {"pension": 0.75, "medical": 0.9, "unemployment": 0.55, "injury": 0.45,
               "maternity": 0.35}
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@dataclass
class Person:
    id_number: str
    name: str
    sex: str
    birth: date
    ethnicity: str
    city: str


@dataclass
class Estate:
    """What a build produced: rows per system, truth and damage logs (kept in memory until written)."""

    rng: random.Random
    rows: dict[str, list[dict]] = field(default_factory=dict)
    truth: list[tuple[str, str, str]] = field(default_factory=list)
    damage: list[tuple[str, str, str]] = field(default_factory=list)

    def chance(self, name: str) -> bool:
        return self.rng.random() < DAMAGE_RATES[name]

    def record(self, system: str, key: str, person: Person, damages: list[str]) -> None:
        self.truth.append((system, key, person.id_number))
        self.damage.extend((system, key, d) for d in damages)


def check_char(first17: str) -> str:
    """GB 11643 check character, via python-stdnum."""
    from stdnum.cn.ric import calc_check_digit

    return calc_check_digit(first17 + "0")


def people(n: int, rng: random.Random) -> list[Person]:
    """n natural persons with unique, valid ID numbers."""
    counties = sorted(c for c in area_codes() if not c.endswith("00"))
    seen: set[str] = set()
    result = []
    while len(result) < n:
        sex = rng.choice("12")
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        seq = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
        first17 = f"{rng.choice(counties)}{birth:%Y%m%d}{seq:03d}"
        number = first17 + check_char(first17)
        if number in seen:
            continue
        seen.add(number)
        if rng.random() < 0.04:
            given, family, ethnicity = rng.choice(MINORITY_NAMES)
            name = f"{given}·{family}"
        else:
            ethnicity = "01" if rng.random() < 0.92 else f"{rng.randrange(2, 57):02d}"
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            if rng.random() < 0.01:
                name = name[:-1] + rng.choice(RARE_CHARS)
        result.append(Person(number, name, sex, birth, ethnicity, rng.choice(CITIES)))
    return result


def damaged_id(person: Person, system: str, est: Estate) -> tuple[str, list[str]]:
    """The ID number as the legacy row holds it, and the damages applied."""
    number, done = person.id_number, []
    if est.chance("id_missing"):
        return "", ["id_missing"]
    if est.chance("id_placeholder"):
        return "0" * 18, ["id_placeholder"]
    old = "id_15_digit_old_system" if system in ("pension", "unemployment") else "id_15_digit_other"
    if person.birth.year < 1985 and est.chance(old):
        number, done = number[:6] + number[8:17], ["id_15_digit"]
    if est.chance("id_typo"):
        i = est.rng.randrange(len(number) - (number[-1] == "X"))
        digit = est.rng.choice([d for d in "0123456789" if d != number[i]])
        number, done = number[:i] + digit + number[i + 1:], done + ["id_typo"]
    elif est.chance("id_swap"):
        spots = [i for i in range(min(16, len(number) - 1)) if number[i] != number[i + 1]]
        i = est.rng.choice(spots)
        number = number[:i] + number[i + 1] + number[i] + number[i + 2:]
        done.append("id_swap")
    if number.endswith("X") and est.chance("id_lowercase_x"):
        number, done = number[:-1] + "x", done + ["id_lowercase_x"]
    if est.chance("id_fullwidth"):
        number, done = number.translate(FULLWIDTH), done + ["id_fullwidth"]
    if est.chance("id_spaces"):
        i = est.rng.randrange(1, len(number))
        number = est.rng.choice((" ", "\t", "")) + number[:i] + " " + number[i:] + " "
        done.append("id_spaces")
    if est.chance("id_trailing_junk"):
        number, done = number + est.rng.choice(("#", "-01", "(旧)", "..")), done + ["id_trailing_junk"]
    return number, done


def damaged_name(person: Person, system: str, est: Estate) -> tuple[str, list[str]]:
    """The name as the legacy row holds it, and the damages applied."""
    name, done = person.name, []
    if "·" in name and est.chance("name_dot_variant"):
        name, done = name.replace("·", est.rng.choice((".", "•"))), ["name_dot_variant"]
    if name.translate(TRADITIONAL) != name and est.chance("name_traditional"):
        name, done = name.translate(TRADITIONAL), done + ["name_traditional"]
    if len(name) > 1 and est.chance("name_fullwidth_space"):
        name, done = name[0] + "\u3000" + name[1:], done + ["name_fullwidth_space"]
    if est.chance("name_trailing_space"):
        name, done = name + "  ", done + ["name_trailing_space"]
    if est.chance("name_hostile"):
        name, done = est.rng.choice(HOSTILE).format(name=name), done + ["name_hostile"]
    if system == "medical":  # the vendor system stores GBK: what GBK lacks comes back as '?'
        stored = name.encode("gbk", errors="replace").decode("gbk")
        name, done = stored, done + (["name_gbk_lost"] if stored != name else [])
    return name, done


def row_birth(person: Person, est: Estate, damages: list[str]) -> date | None:
    """The birth date column, possibly contradicting the ID (damage logged)."""
    if est.chance("attr_disagrees_with_id"):
        damages.append("birth_disagrees_with_id")
        return person.birth + timedelta(days=est.rng.choice((-400, -31, 1, 2, 365)))
    return person.birth


def row_sex(person: Person, est: Estate, damages: list[str]) -> str:
    if est.chance("attr_disagrees_with_id"):
        damages.append("sex_disagrees_with_id")
        return "2" if person.sex == "1" else "1"
    return person.sex


def moment(est: Estate, after: datetime = EPOCH) -> datetime:
    """A last-change time between `after` and the estate's as-of time."""
    span = int((AS_OF - after).total_seconds())
    return after + timedelta(seconds=est.rng.randrange(max(span, 1)))


def enrolled_on(person: Person, changed: datetime, est: Estate, damages: list[str]) -> date:
    if est.chance("enrolled_in_future"):
        damages.append("enrolled_in_future")
        return date(2031, 1, 1) + timedelta(days=est.rng.randrange(900))
    if est.chance("enrolled_before_birth"):
        damages.append("enrolled_before_birth")
        return person.birth - timedelta(days=est.rng.randrange(1, 900))
    end = changed.date()
    start = min(max(person.birth + timedelta(days=18 * 366), date(1990, 1, 1)), end)
    return start + timedelta(days=est.rng.randrange(max((end - start).days, 1)))


def files_of(person: Person, system: str, est: Estate) -> list[tuple[str, str, list[str]]]:
    """(city, status kind, damages) for each file the person has in a system: 一人多档 and 重复参保."""
    files = [(person.city, "active", [])]
    if system != "injury" and est.chance("second_file"):
        other = est.rng.choice([c for c in CITIES if c != person.city])
        if est.chance("duplicate_enrollment"):
            files.append((other, "active", ["second_file", "duplicate_enrollment"]))
        else:
            files[0] = (person.city, "ended", [])
            files.append((est.rng.choice((person.city, other)), "active", ["second_file"]))
    return files


@dataclass
class Draft:
    """One file of a person in a database system, before the system's own columns."""

    person: Person
    city: str
    kind: str
    """'active', or 'ended' for the older of two files."""
    serial: int
    number: str
    name: str
    damages: list[str]


def drafts(persons: list[Person], system: str, est: Estate) -> Iterator[Draft]:
    """Every file the enrolled persons have in `system`, with a damaged ID and name."""
    serial = 0
    for person in persons:
        if est.rng.random() >= ENROLL_RATE[system]:
            continue
        for city, kind, extra in files_of(person, system, est):
            serial += 1
            number, id_damage = damaged_id(person, system, est)
            name, name_damage = damaged_name(person, system, est)
            yield Draft(person, city, kind, serial, number, name, [*extra, *id_damage,
                                                                   *name_damage])


def emptied(row: dict, columns: tuple[str, ...], est: Estate, draft: Draft, blank=None) -> dict:
    """The row with nothing usable left, at the catalogue's rate."""
    if est.chance("row_empty"):
        row.update(dict.fromkeys(columns, blank))
        draft.damages.append("row_empty")
    return row


def employer(est: Estate) -> str:
    return f"E{est.rng.randrange(10**7):07d}"


def pension_rows(persons: list[Person], est: Estate) -> None:
    people_rows, enrollment_rows = [], []
    for draft in drafts(persons, "pension", est):
        person, serial = draft.person, 10_000_000 + 3 * draft.serial
        birth = row_birth(person, est, draft.damages)
        birth_text = f"{birth:%Y%m%d}"
        if est.chance("date_zero"):
            birth_text = "00000000"
            draft.damages.append("date_zero")
        elif est.chance("date_impossible"):
            birth_text = f"{birth:%Y}0230"
            draft.damages.append("date_impossible")
        ethnicity = person.ethnicity.lstrip("0") if est.rng.random() < 0.3 else person.ethnicity
        changed = moment(est)
        sex = row_sex(person, est, draft.damages) if est.rng.random() > 0.01 else "9"
        people_rows.append(emptied({
            "aac001": serial, "aac002": draft.number, "aac003": draft.name, "aac004": sex,
            "aac005": ethnicity, "aac006": birth_text, "aab001": employer(est),
            "aab301": draft.city, "aae036": changed,
        }, ("aac002", "aac003", "aac004", "aac005", "aac006"), est, draft))
        retired = person.birth.year < 1964
        local = ("2" if retired else "1") if draft.kind == "active" else est.rng.choice("34")
        enrollment_rows.append({
            "aac001": serial, "aae140": "120" if est.rng.random() < 0.05 else "110",
            "aac008": local, "aac031": {"1": "1", "2": "1", "3": "2", "4": "3"}[local],
            "aac030": f"{enrolled_on(person, changed, est, draft.damages):%Y%m%d}",
            "aae036": changed})
        est.record("pension", str(serial), person, draft.damages)
    est.rows["ac01"], est.rows["ac02"] = people_rows, enrollment_rows


def medical_rows(persons: list[Person], est: Estate) -> None:
    rows = []
    names = code_table("ethnicity")
    for draft in drafts(persons, "medical", est):
        person, key, cert, number = draft.person, f"M{draft.city}{draft.serial:08d}", "01", \
            draft.number
        if est.chance("non_resident_cert"):
            cert, number = "02", f"E{est.rng.randrange(10**8):08d}"
            draft.damages.append("non_resident_cert")
        sex = row_sex(person, est, draft.damages)
        rows.append(emptied({
            "psn_no": key, "certno": number, "psn_cert_type": cert, "psn_name": draft.name,
            "gend": {"1": "1", "2": "0"}[sex] if est.rng.random() > 0.01 else "9",
            "naty": names[person.ethnicity] if est.rng.random() > 0.1 else "",
            "brdy": row_birth(person, est, draft.damages) if est.rng.random() > 0.05 else None,
            "insutype": "310" if est.rng.random() < 0.8 else "390",
            "psn_insu_stas": "1" if draft.kind == "active" else est.rng.choice("24"),
            "emp_no": employer(est), "admdvs": draft.city, "updt_time": moment(est),
        }, ("certno", "psn_name", "gend", "naty", "brdy"), est, draft))
        est.record("medical", key, person, draft.damages)
    est.rows["mi_insured"] = rows


def unemployment_birth_text(birth: date | None, rng: random.Random) -> str:
    """The desktop system's mixed birth-date formats."""
    if birth is None:
        return ""
    return rng.choice((f"{birth:%Y-%m-%d}", f"{birth.year}/{birth.month}/{birth.day}",
                       f"{birth:%Y%m%d}", f"{birth:%Y.%m}"))


def unemployment_rows(persons: list[Person], est: Estate) -> None:
    rows = []
    names = code_table("ethnicity")
    for draft in drafts(persons, "unemployment", est):
        person, key = draft.person, f"U{draft.serial:09d}"
        sex = row_sex(person, est, draft.damages)
        birth = unemployment_birth_text(row_birth(person, est, draft.damages), est.rng)
        if est.chance("date_impossible"):
            birth = f"{person.birth.year}-02-30"
            draft.damages.append("date_impossible")
        values = [key, draft.name, draft.number,
                  {"1": "男", "2": "女"}[sex] if est.rng.random() > 0.02 else "", birth,
                  names[person.ethnicity] if est.rng.random() < 0.6 else person.ethnicity,
                  f"{est.rng.choice(SURNAMES)}氏实业有限公司",
                  "在保" if draft.kind == "active" else est.rng.choice(("停保", "退保")),
                  draft.city, f"{moment(est):%Y/%m/%d %H:%M:%S}"]
        rows.append(emptied(dict(zip(UNEMPLOYMENT_COLUMNS, values, strict=True)),
                            ("姓名", "身份证号", "性别", "出生日期", "民族"), est, draft, ""))
        est.record("unemployment", key, person, draft.damages)
    est.rows["失业参保人员"] = rows


def maternity_rows(persons: list[Person], est: Estate) -> None:
    rows = []
    for draft in drafts(persons, "maternity", est):
        person, key = draft.person, f"S{draft.serial:08d}"
        rows.append(emptied({
            "grbh": key, "sfzh": draft.number, "xm": draft.name,
            "xb": row_sex(person, est, draft.damages),
            "csrq": row_birth(person, est, draft.damages),
            "cbzt": "1" if draft.kind == "active" else "0", "dwbh": employer(est),
            "tcq": draft.city, "gxsj": moment(est),
        }, ("sfzh", "xm", "xb", "csrq"), est, draft))
        est.record("maternity", key, person, draft.damages)
    est.rows["sy_cbry"] = rows


def injury_files(persons: list[Person], est: Estate) -> dict[tuple[str, str], list[list[str]]]:
    """Monthly snapshot files per city: {(month, city): rows}; records truth per source key.

    A broken row has lost a field; a truncated file's last row is a list ending in None (the
    writer cuts it short). Both are keyed by (city, 序号, month), as the extractor keys them.
    """
    insured = []
    keys: set[str] = set()
    for person in persons:
        if est.rng.random() >= ENROLL_RATE["injury"]:
            continue
        number, damages = damaged_id(person, "injury", est)
        name, d2 = damaged_name(person, "injury", est)
        if number and f"{person.city}|{number}" in keys:  # two people, one damaged number
            number, damages = "", ["id_missing"]
        keys.add(f"{person.city}|{number}")
        start = 0 if est.rng.random() < 0.7 else est.rng.randrange(1, len(INJURY_MONTHS))
        leaves = est.rng.random() < 0.1
        insured.append((person, name, number, damages + d2, start, leaves,
                        employer(est), moment(est, datetime(2023, 1, 1))))
    files: dict[tuple[str, str], list[list[str]]] = {}
    recorded: set[str] = set()
    for m, month in enumerate(INJURY_MONTHS):
        month_end = datetime.strptime(month, "%Y-%m") + timedelta(days=27)
        for city in CITIES:
            members = [i for i in insured if i[0].city == city and m >= i[4]]
            truncated = bool(members) and est.chance("csv_truncated_file")
            rows = []
            for n, (person, name, number, damages, start, leaves, firm, changed) in enumerate(
                    members):
                status = "0" if leaves and m == len(INJURY_MONTHS) - 1 else "1"
                when = month_end if status == "0" or m == start and start else changed
                seq = str(n + 1)
                row = [seq, name, number, person.sex, f"{person.birth:%Y%m%d}", firm, status,
                       city, f"{when:%Y-%m-%d %H:%M:%S}"]
                damage = []
                if truncated and n == len(members) - 1:
                    row, damage = row[:5] + [None], ["csv_truncated_line"]
                elif est.chance("csv_broken_row"):
                    del row[5]
                    damage = ["csv_broken_row"]
                key = f"{city}|{seq}|{month}" if damage or not number else f"{city}|{number}"
                if key not in recorded:
                    recorded.add(key)
                    est.record("injury", key, person, damages + damage)
                rows.append(row)
            files[(month, city)] = rows
    return files


def write_injury(files: dict[tuple[str, str], list[list[str]]], root: Path) -> None:
    """GB18030 CSV files; a row ending in None is written cut short, with no line end."""
    for (month, city), rows in files.items():
        folder = root / month
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{city}.csv").open("w", encoding="gb18030", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(INJURY_COLUMNS)
            for row in rows:
                if row[-1] is None:
                    handle.write(",".join(row[:-2]) + "," + row[-2][:3])
                else:
                    writer.writerow(row)


def ensure_database(url: str) -> None:
    """Create the database a PostgreSQL or MariaDB URL names, if it does not exist yet."""
    target = make_url(url)
    if target.get_backend_name() not in ("postgresql", "mysql", "mariadb"):
        return
    postgres = target.get_backend_name() == "postgresql"
    admin = create_engine(target.set(database="postgres" if postgres else ""),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if postgres:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                 {"d": target.database}).first()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        else:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{target.database}` "
                              "CHARACTER SET utf8mb4"))
    admin.dispose()


def write_database(system: str, url: str, tables: dict[str, list[dict]]) -> None:
    """(Re)create a system's tables on any engine and fill them (COPY on PostgreSQL)."""
    from extractors.sql import reason
    from loaders.bulk import copy_into

    try:
        ensure_database(url)
        engine = create_engine(url)
        metadata = METADATA[system]
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                rows = tables.get(table.name)
                if rows:
                    frame = pd.DataFrame(rows, columns=[c.name for c in table.columns])
                    copy_into(conn, table, frame)
        engine.dispose()
    except SQLAlchemyError as error:
        where = make_url(url).render_as_string(hide_password=True)
        raise ValueError(f"system {system}: cannot write to {where} ({reason(error)})") from None


CONFIG_TEMPLATE = """\
# jinbao configuration for a simulated estate ({persons} persons, seed {seed}).
# Relative paths and SQLite URLs are relative to this file's folder.
[warehouse]
url = "sqlite:///warehouse.db"

[staging]
root = "staging"
buckets = 4
gx_root = "gx"
{sources}"""


def _config_url(system: str, url: str | None) -> str:
    """The URL as jinbao.toml records it: a password is never written, an env var stands in."""
    if url is None:
        return f"sqlite:///{system}.db"
    if make_url(url).password:
        return "${JINBAO_" + system.upper() + "_URL}"
    return url


def build_estate(persons: int, seed: int, out: Path,
                 progress: Callable[[str], None] = lambda _: None,
                 engines: dict[str, str] | None = None) -> dict[str, int]:
    """Write the five legacy systems, truth.csv, damage.csv and jinbao.toml under `out`.

    `engines` places database systems elsewhere than the default SQLite file in `out`
    ({"medical": "mysql+pymysql://root@127.0.0.1/medical?charset=utf8mb4", ...}).
    """
    engines = engines or {}
    unknown = set(engines) - set(METADATA)
    if unknown:
        raise ValueError(f"--engine names {', '.join(sorted(unknown))}; database systems are "
                         f"{', '.join(METADATA)} (injury is always CSV files)")
    out.mkdir(parents=True, exist_ok=True)
    est = Estate(rng=random.Random(seed))
    progress("people")
    population = people(persons, est.rng)
    for step in (pension_rows, medical_rows, unemployment_rows, maternity_rows):
        progress(step.__name__.removesuffix("_rows"))
        step(population, est)
    progress("injury")
    files = injury_files(population, est)
    tables_of = {"pension": ("ac01", "ac02"), "medical": ("mi_insured",),
                 "unemployment": (unemployment_insured.name,), "maternity": (sy_cbry.name,)}
    for system, tables in tables_of.items():
        progress(f"write {system}")
        write_database(system, engines.get(system, f"sqlite:///{out / system}.db"),
                       {name: est.rows[name] for name in tables})
    write_injury(files, out / "injury")
    with (out / "truth.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source_system", "source_key", "person_key"))
        writer.writerows(est.truth)
    with (out / "damage.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source_system", "source_key", "damage"))
        writer.writerows(est.damage)
    sources = "".join(
        f'\n[sources.{system}]\nsystem = "{system}"\n'
        + (f'path = "{system}"\n' if system == "injury"
           else f'url = "{_config_url(system, engines.get(system))}"\n')
        for system in ("pension", "medical", "unemployment", "injury", "maternity"))
    (out / "jinbao.toml").write_text(
        CONFIG_TEMPLATE.format(persons=persons, seed=seed, sources=sources), encoding="utf-8")
    counts = {system: sum(1 for t in est.truth if t[0] == system)
              for system in ("pension", "medical", "unemployment", "injury", "maternity")}
    counts["persons"] = persons
    return counts

