"""The rows of each legacy system, as its vendor's schema holds them (legacy-estate/README.md)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from estate.damage import (
    Estate,
    enrolled_on,
    files_of,
    moment,
)
from estate.population import SURNAMES, Person
from extractors.legacy_tables import UNEMPLOYMENT_COLUMNS
from schemas.codes import code_table

INJURY_MONTHS = ("2024-10", "2024-11", "2024-12")
ENROLL_RATE = {"pension": 0.75, "medical": 0.9, "unemployment": 0.55, "injury": 0.45,
               "maternity": 0.35}


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
            number, id_damage = est.model.id(person, system, est)
            name, name_damage = est.model.name(person, system, est)
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
        birth = est.model.birth(person, est, draft.damages)
        birth_text = f"{birth:%Y%m%d}" if birth else "00000000"
        if est.chance("date_zero"):
            birth_text = "00000000"
            draft.damages.append("date_zero")
        elif est.chance("date_impossible"):
            birth_text = f"{birth or person.birth:%Y}0230"
            draft.damages.append("date_impossible")
        ethnicity = person.ethnicity.lstrip("0") if est.rng.random() < 0.3 else person.ethnicity
        changed = moment(est)
        sex = est.model.sex(person, est, draft.damages) if est.rng.random() > 0.01 else "9"
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
        sex = est.model.sex(person, est, draft.damages)
        rows.append(emptied({
            "psn_no": key, "certno": number, "psn_cert_type": cert, "psn_name": draft.name,
            "gend": {"1": "1", "2": "0"}[sex] if est.rng.random() > 0.01 else "9",
            "naty": names[person.ethnicity] if est.rng.random() > 0.1 else "",
            "brdy": est.model.birth(person, est, draft.damages) if est.rng.random() > 0.05 else None,
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
        sex = est.model.sex(person, est, draft.damages)
        birth = unemployment_birth_text(est.model.birth(person, est, draft.damages), est.rng)
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
            "xb": est.model.sex(person, est, draft.damages),
            "csrq": est.model.birth(person, est, draft.damages),
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
        number, damages = est.model.id(person, "injury", est)
        name, d2 = est.model.name(person, "injury", est)
        if number and f"{person.city}|{number}" in keys:  # two people, one damaged number
            number, damages = "", ["id_missing"]
        keys.add(f"{person.city}|{number}")
        start = 0 if est.rng.random() < 0.7 else est.rng.randrange(1, len(INJURY_MONTHS))
        leaves = est.rng.random() < 0.1
        if person.moved_out and not est.chance("left_active"):
            leaves = True  # reported as left in the last month
        elif person.moved_out:
            damages = [*damages, "left_active"]
        insured.append((person, name, number, damages + d2, start, leaves,
                        employer(est), moment(est, datetime(2023, 1, 1))))
    files: dict[tuple[str, str], list[list[str]]] = {}
    recorded: set[str] = set()
    for m, month in enumerate(INJURY_MONTHS):
        month_end = datetime.strptime(month, "%Y-%m") + timedelta(days=27)
        for city in est.cities:
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
