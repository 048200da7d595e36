"""The simulated population: natural persons with valid ID numbers, names and home cities."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from schemas.codes import county_codes

# A rare character (not in GBK) in names; the GBK medical system turns it into '?'.
RARE_CHARS = "𬱖𬘡䶮𰻝𬌗"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉龙东宝凤文志海波晨欣怡子轩浩宇梓涵"
MINORITY_NAMES = (("阿依古丽", "买买提", "05"), ("热依拉", "艾力", "05"), ("巴特尔", "其其格", "02"),
                  ("扎西", "卓玛", "04"), ("古丽娜", "吐尔逊", "05"))
CITIES = ("440100", "440300", "440600")


@dataclass(slots=True)
class Person:
    id_number: str
    name: str
    sex: str
    birth: date
    ethnicity: str
    city: str
    moved_out: bool = False
    """The person has moved to another province (national estates): this province's files
    were ended, except those the old province forgot (重复参保 across provinces)."""


def check_char(first17: str) -> str:
    """GB 11643 check character, via python-stdnum."""
    from stdnum.cn.ric import calc_check_digit

    return calc_check_digit(first17 + "0")


def people(n: int, rng: random.Random, cities: tuple[str, ...] = CITIES) -> list[Person]:
    """n natural persons with unique, valid ID numbers."""
    counties = county_codes()
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
        result.append(Person(number, name, sex, birth, ethnicity, rng.choice(cities)))
    return result
