"""The damage catalogue (legacy-estate/README.md) as the simulator injects it: each damage at the
rate in DAMAGE_RATES, logged by source row in damage.csv."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from estate.population import CITIES, Person

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
    "left_active": 0.3,  # of a mover's files in the province left: never ended (重复参保)
    "csv_broken_row": 0.005,
    "csv_truncated_file": 0.2,  # of injury files: the last line is cut short
}

TRADITIONAL = str.maketrans("张陈刘杨黄赵吴孙马丽华国军伟红兰凤龙东宝叶苏邓许韩冯罗郑谢",
                            "張陳劉楊黃趙吳孫馬麗華國軍偉紅蘭鳳龍東寶葉蘇鄧許韓馮羅鄭謝")
HOSTILE = ("{name}'; DROP TABLE person;--", '{name}" OR "1"="1', "{name}\x07\x1b[2J",
           "{name};DELETE FROM ac01", "<script>alert('{name}')</script>", "{name}\r\n,\"quoted,\"")
EPOCH = datetime(2019, 1, 1)
AS_OF = datetime(2024, 12, 31, 23, 0)
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@dataclass
class Estate:
    """What a build produced: rows per system, truth and damage logs (kept in memory until written)."""

    rng: random.Random
    rows: dict[str, list[dict]] = field(default_factory=dict)
    truth: list[tuple[str, str, str]] = field(default_factory=list)
    damage: list[tuple[str, str, str]] = field(default_factory=list)
    model: object = None
    """What damages the ID numbers, names, birth dates and sex of the rows: Catalogue() (the
    damage catalogue) unless the build chose another (estate.corruptor.Corruptor)."""

    cities: tuple[str, ...] = CITIES
    """The pooling regions of the estate's province."""

    def __post_init__(self) -> None:
        if self.model is None:
            self.model = Catalogue()

    def chance(self, name: str) -> bool:
        return self.rng.random() < DAMAGE_RATES[name]

    def record(self, system: str, key: str, person: Person, damages: list[str]) -> None:
        self.truth.append((system, key, person.id_number))
        self.damage.extend((system, key, d) for d in damages)


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
    if person.moved_out:  # a mover's file in the province left: ended, unless forgotten
        files = [(person.city, "active", ["left_active"]) if est.chance("left_active")
                 else (person.city, "ended", [])]
    if system != "injury" and est.chance("second_file"):
        other = est.rng.choice([c for c in est.cities if c != person.city])
        if est.chance("duplicate_enrollment"):
            files.append((other, "active", ["second_file", "duplicate_enrollment"]))
        else:
            files[0] = (person.city, "ended", [])
            files.append((est.rng.choice((person.city, other)), "active", ["second_file"]))
    return files



class Catalogue:
    """The damage catalogue as a damage model: what systems.py asks of every model."""

    name_of_model = "catalogue"

    def id(self, person: Person, system: str, est: Estate) -> tuple[str, list[str]]:
        return damaged_id(person, system, est)

    def name(self, person: Person, system: str, est: Estate) -> tuple[str, list[str]]:
        return damaged_name(person, system, est)

    def birth(self, person: Person, est: Estate, damages: list[str]) -> date | None:
        return row_birth(person, est, damages)

    def sex(self, person: Person, est: Estate, damages: list[str]) -> str:
        return row_sex(person, est, damages)
