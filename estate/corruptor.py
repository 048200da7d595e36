"""A field-level corruptor that shares nothing with the damage catalogue: test estates whose
damage the matcher was not designed against.

Built in the manner of the record-linkage literature's generators (FEBRL, GeCo): each field has
its own corruption types, and each field's corruption rate is drawn afresh for every estate
(a Beta distribution, mean about 6%), then one type is drawn per corrupted value:

    name   a homophone (the pinyin input method's wrong candidate), a look-alike character
           (OCR), a character dropped, doubled or swapped with its neighbour, the given name
           first, the name missing, or the ID number written in the name field
    id     one or two digits mistyped, two digits swapped, the last digit lost, the number of
           a relative (same address code and birth date, another sequence), missing, or the
           employer code written in the ID field
    birth  a digit mistyped, day and month swapped, the year a year off, the first of the
           month, missing, or the enrolment date written instead
    sex    flipped or missing
Formatting damage (full-width digits, spaces) is left out: the pipeline repairs it whatever
built it; this corruptor is about content.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from estate.population import GIVEN, SURNAMES, Person

# Look-alike characters (形近字): what an OCR pass or a tired clerk confuses
LOOK_ALIKE = ("王玉主", "土士", "己已巳", "日曰", "未末", "人入八", "大太犬", "天夫", "干千于",
              "午牛", "刀力", "由甲申田", "目自", "白百", "木本术", "晴睛", "拨拔", "辩辨",
              "候侯", "锡钖", "杰", "娟涓", "静净", "丽俪", "红虹", "军车", "明朋", "强弱",
              "洋样", "海梅", "波坡", "宇字", "浩诰", "轩杆", "华毕", "建健", "敏斂", "英央")
# Common characters, to find homophones among
COMMON = (SURNAMES + GIVEN + "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就"
          "分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度"
          "家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由"
          "其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或"
          "但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果"
          "料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别"
          "她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百"
          "规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单"
          "风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马"
          "节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布"
          "复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克"
          "何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始"
          "却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞")


@dataclass
class Corruptor:
    """One estate's corruption rates, drawn from its random generator; a damage model for the
    simulator (estate.damage.Estate.model)."""

    rng: random.Random
    rates: dict[str, float] = field(default_factory=dict)
    name_of_model: str = "corruptor"

    def __post_init__(self) -> None:
        for what in ("name", "id", "birth", "sex"):
            self.rates[what] = self.rng.betavariate(2, 30)
        self._homophones = _homophones()
        self._look_alike = {c: group for group in LOOK_ALIKE for c in group}

    def _hit(self, what: str) -> bool:
        return self.rng.random() < self.rates[what]

    def id(self, person: Person, system: str, est) -> tuple[str, list[str]]:
        number = person.id_number
        if not self._hit("id"):
            return number, []
        kind = self.rng.choice(("one_digit", "one_digit", "two_digits", "swap", "truncated",
                                "relative", "missing", "misplaced"))
        digits = list(number)
        if kind in ("one_digit", "two_digits"):
            for i in self.rng.sample(range(17), 1 if kind == "one_digit" else 2):
                digits[i] = self.rng.choice([d for d in "0123456789" if d != digits[i]])
        elif kind == "swap":
            i = self.rng.randrange(16)
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
        elif kind == "truncated":
            digits = digits[:-1]
        elif kind == "relative":
            digits[14:17] = f"{self.rng.randrange(1000):03d}"
        elif kind == "missing":
            digits = []
        else:
            digits = list(f"E{self.rng.randrange(10**7):07d}")
        return "".join(digits), [f"c_id_{kind}"]

    def name(self, person: Person, system: str, est) -> tuple[str, list[str]]:
        name = person.name
        if not self._hit("name"):
            return self._lossy(name, system)
        kind = self.rng.choice(("homophone", "homophone", "look_alike", "dropped", "doubled",
                                "swapped", "given_first", "missing", "misplaced"))
        chars = list(name)
        spots = [i for i, c in enumerate(chars) if c != "·"]
        i = self.rng.choice(spots)
        if kind == "homophone":
            others = [c for c in self._homophones.get(chars[i], "") if c != chars[i]]
            chars[i] = self.rng.choice(others) if others else self.rng.choice(GIVEN)
        elif kind == "look_alike":
            group = self._look_alike.get(chars[i], "")
            others = [c for c in group if c != chars[i]]
            chars[i] = self.rng.choice(others) if others else self.rng.choice(COMMON)
        elif kind == "dropped" and len(spots) > 2:
            del chars[i]
        elif kind == "doubled":
            chars.insert(i, chars[i])
        elif kind == "swapped" and len(chars) > 2:
            j = min(i + 1, len(chars) - 1)
            chars[i], chars[j] = chars[j], chars[i]
        elif kind == "given_first":
            chars = ["·".join(reversed(name.split("·")))] if "·" in name else chars[1:] + chars[:1]
        elif kind == "missing":
            chars = []
        elif kind == "misplaced":
            chars = list(person.id_number)
        return self._lossy("".join(chars), system)[0], [f"c_name_{kind}"]

    @staticmethod
    def _lossy(name: str, system: str) -> tuple[str, list[str]]:
        if system == "medical":  # the vendor system stores GBK, whoever built the estate
            return name.encode("gbk", errors="replace").decode("gbk"), []
        return name, []

    def birth(self, person: Person, est, damages: list[str]) -> date | None:
        born = person.birth
        if not self._hit("birth"):
            return born
        kind = self.rng.choice(("digit", "day_month", "year", "first_of_month", "missing",
                                "enrolment"))
        damages.append(f"c_birth_{kind}")
        if kind == "digit":
            text = list(f"{born:%Y%m%d}")
            i = self.rng.choice((2, 3, 5, 7))  # a decade, a year, a month or a day digit
            text[i] = self.rng.choice([d for d in "0123456789" if d != text[i]])
            try:
                return date(int("".join(text[:4])), int("".join(text[4:6])),
                            int("".join(text[6:])))
            except ValueError:
                return born + timedelta(days=10)
        if kind == "day_month":
            try:
                return date(born.year, born.day, born.month)
            except ValueError:
                return born.replace(day=1)
        if kind == "year":
            return born.replace(year=born.year + self.rng.choice((-1, 1)), day=min(born.day, 28))
        if kind == "first_of_month":
            return born.replace(day=1)
        if kind == "missing":
            return None
        return born + timedelta(days=365 * self.rng.randrange(18, 40))

    def sex(self, person: Person, est, damages: list[str]) -> str:
        if not self._hit("sex"):
            return person.sex
        damages.append("c_sex")
        return "2" if person.sex == "1" else "1"


def _homophones() -> dict[str, str]:
    """Each common character -> the characters that share its toneless pinyin."""
    from pypinyin import lazy_pinyin

    groups: dict[str, str] = {}
    for char in dict.fromkeys(COMMON):
        sound = lazy_pinyin(char)[0]
        groups[sound] = groups.get(sound, "") + char
    return {c: groups[lazy_pinyin(c)[0]] for c in dict.fromkeys(COMMON)}
