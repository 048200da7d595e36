"""Survivorship: which source row supplies each attribute of the golden record, by explicit rules.

Each attribute has an ordered list of rules; the candidate rows of a person are ranked by the first
rule, ties broken by the next, and finally by (source_system, source_key) so the choice never
depends on row order. The winner's `source_system|source_key` is kept as the attribute's source.

    agrees_with_id   the value agrees with what the ID number encodes (sex, birth_date)
    most_common      the value most of the person's rows agree on (names compared by name key)
    most_recent      the row updated last
    source_priority  the source listed first in `source_priority`

Sex and birth date always have one more candidate, the ID number itself (source `id_number`,
never the most recent, last in priority): it wins only when no row agrees with it (the standard
requires both to agree with the ID) or no row states the attribute at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas.identity import birth_date_from_id, sex_from_id
from transforms.names import name_keys

RULES = ("agrees_with_id", "most_common", "most_recent", "source_priority")
# A reviewer's pick (attribute_override) comes before all of them.
ATTRIBUTES = ("name", "sex", "ethnicity", "birth_date")
DEFAULT_RULES = {
    # a name has no ID to agree with: the spelling most files share, then the latest
    "name": ("most_common", "most_recent", "source_priority"),
    "sex": ("agrees_with_id", "most_recent", "source_priority"),
    "birth_date": ("agrees_with_id", "most_recent", "source_priority"),
    "ethnicity": ("most_recent", "source_priority"),
}
FROM_ID = "id_number"


@dataclass(frozen=True)
class Survivorship:
    rules: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_RULES))
    source_priority: tuple[str, ...] = ()
    """Source names, most trusted first; sources not listed come after, in name order."""

    def __post_init__(self) -> None:
        for attribute, rules in self.rules.items():
            if attribute not in ATTRIBUTES:
                raise ValueError(f"survivorship: unknown attribute {attribute!r}; "
                                 f"known: {', '.join(ATTRIBUTES)}")
            unknown = [r for r in rules if r not in RULES]
            if unknown:
                raise ValueError(f"survivorship.{attribute}: unknown rule {unknown[0]!r}; "
                                 f"known: {', '.join(RULES)}")


def id_values(id_numbers: pd.Series, attribute: str) -> pd.Series:
    """What the ID number encodes for `attribute` (sex or birth_date)."""
    if attribute == "sex":
        return sex_from_id(id_numbers)
    return birth_date_from_id(id_numbers)


def stated(values: pd.Series, attribute: str) -> pd.Series:
    """Whether each value states the attribute: sex 0 (unknown) and 9 (unspecified) do not."""
    if attribute == "sex":
        return values.isin(["1", "2"]).fillna(False).astype(bool)
    return values.notna()


def _comparable(values: pd.Series, attribute: str) -> pd.Series:
    return name_keys(values) if attribute == "name" else values.astype("string")


def _compared(candidates: pd.DataFrame, attribute: str) -> pd.Series:
    """The candidates' values as compared (names by their key, computed once per row)."""
    if attribute == "name":
        return candidates[NAME_KEY]
    return _comparable(candidates["value"], attribute)


ORDER, PERSON, NAME_KEY = "_order", "_person", "_name_key"
"""Columns of prepared rows: a row's place in (id_number, source_system, source_key) order and
its ID's place among the IDs (integer sort keys for what would otherwise be sorted as text
again and again), and its name's key (what names are compared by)."""


def prepared(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by (id_number, source_system, source_key), with ORDER, PERSON and
    NAME_KEY (rows prepared already are returned as they are)."""
    if ORDER in rows.columns:
        return rows
    ordered = rows.sort_values(["id_number", "source_system", "source_key"], kind="stable",
                               na_position="last", ignore_index=True)
    person, _ = pd.factorize(ordered["id_number"], sort=True)
    return ordered.assign(**{ORDER: np.arange(len(ordered)), PERSON: person,
                             NAME_KEY: name_keys(ordered["name"])})


def _candidates(rows: pd.DataFrame, attribute: str) -> pd.DataFrame:
    columns = ["id_number", PERSON, ORDER, "updated_at", "source_system", "source_key"]
    if attribute == "name":
        columns.append(NAME_KEY)
    candidates = rows.loc[stated(rows[attribute], attribute), [*columns, attribute]].rename(
        columns={attribute: "value"})
    candidates["source"] = candidates["source_system"] + "|" + candidates["source_key"]
    if attribute in ("sex", "birth_date"):
        first = ~rows[PERSON].duplicated()
        ids = rows.loc[first, "id_number"].reset_index(drop=True)
        # the ID's own candidate has no source row: it comes after every row, as a row without
        # a source system and key would
        from_id = pd.DataFrame({"id_number": ids, PERSON: rows.loc[first, PERSON].to_numpy(),
                                ORDER: len(rows), "updated_at": pd.NaT, "source_system": pd.NA,
                                "source_key": pd.NA, "value": id_values(ids, attribute),
                                "source": FROM_ID})
        candidates = pd.concat([candidates, from_id], ignore_index=True)
    return candidates


def survivors(rows: pd.DataFrame, attribute: str, policy: Survivorship,
              picked: pd.Series | None = None) -> pd.DataFrame:
    """One row per id_number: the surviving `value` of `attribute` and its `source`.
    `picked`: id_number -> source a reviewer chose; it comes before every rule."""
    candidates = _candidates(prepared(rows), attribute)
    keys, ascending = [PERSON], [True]
    if picked is not None and len(picked):
        candidates["_picked"] = (candidates["id_number"].map(picked) == candidates["source"]
                                 ).fillna(False)
        keys.append("_picked")
        ascending.append(False)
    for rule in policy.rules.get(attribute, DEFAULT_RULES[attribute]):
        column = f"_{rule}"
        if rule == "agrees_with_id":
            candidates[column] = (_comparable(candidates["value"], attribute)
                                  == _comparable(id_values(candidates["id_number"], attribute),
                                                 attribute)).fillna(False)
        elif rule == "most_common":
            compared = _compared(candidates, attribute).rename("_compared")
            counted = candidates["source"] != FROM_ID
            candidates[column] = (counted.groupby([candidates[PERSON], compared])
                                  .transform("sum"))
        elif rule == "most_recent":
            candidates[column] = candidates["updated_at"]
        else:
            order = {name: i for i, name in enumerate(policy.source_priority)}
            candidates[column] = candidates["source_system"].map(order).fillna(len(order))
        keys.append(column)
        ascending.append(rule == "source_priority")
    keys.append(ORDER)  # (source_system, source_key) within a person
    ascending.append(True)
    best = candidates.sort_values(keys, ascending=ascending, na_position="last", kind="stable")
    return best.drop_duplicates(PERSON).set_index("id_number")[["value", "source"]]
