"""The linkage model as code: Splink settings (comparisons with graded levels that carry this
field's knowledge, blocking rules that presuppose no particular damage) and its training from
the warehouse's own entities: u by random sampling, m by expectation maximisation, the prior
from a deterministic rule. Nothing here reads truth.csv.

The settings author a model and implement nothing: Splink turns them into DuckDB SQL.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import tempfile

import duckdb
import numpy as np
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.exceptions import EMTrainingException

log = logging.getLogger(__name__)
SEED = 20261201  # u sampling is random: one seed, so the same data trains the same model


DIALECTS = ("duckdb", "spark")
"""The Splink backends the model runs on: DuckDB on one machine, Spark past it (the national
tier). The same comparisons in each; the few conditions Splink cannot write for both are
written here per dialect."""


def _hamming(column: str, dialect: str) -> str:
    """How many places two values of one length differ in."""
    left, right = f"{column}_l", f"{column}_r"
    if dialect == "spark":  # Spark SQL has no hamming(): count the differing places
        return (f"size(filter(sequence(1, length({left})), "
                f"i -> substr({left}, i, 1) != substr({right}, i, 1)))")
    return f"hamming({left}, {right})"


def _edits(column: str, n: int, label: str, dialect: str) -> cll.CustomLevel:
    """`n` edits apart (Damerau-Levenshtein: a swap of neighbours is one). Hamming first: it is
    cheap, and values of one length n edits apart differ in at most 2n places (a
    Damerau-Levenshtein distance costs 100x more)."""
    return cll.CustomLevel(f"{_hamming(column, dialect)} <= {2 * n} AND "
                           f"damerau_levenshtein({column}_l, {column}_r) = {n}", label)


def _within_a_year(dialect: str) -> str:
    if dialect == "spark":
        return ("abs(datediff(to_date(birth_l, 'yyyyMMdd'), to_date(birth_r, 'yyyyMMdd'))) "
                "<= 365")
    return ("abs(datediff('day', strptime(birth_l, '%Y%m%d'), strptime(birth_r, '%Y%m%d'))) "
            "<= 365")


def id_comparison(dialect: str = "duckdb") -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="id_number",
        comparison_description="ID number (GB 11643)",
        comparison_levels=[
            cll.NullLevel("id_number"),
            cll.ExactMatchLevel("id_number").configure(label_for_charts="the same number"),
            _edits("id_number", 1, "one digit mistyped, or two adjacent digits swapped",
                   dialect),
            _edits("id_number", 2, "two edits apart", dialect),
            cll.CustomLevel("id_area_l = id_area_r AND id_birth_l = id_birth_r",
                            "same area code and birth-date part"),
            cll.ElseLevel(),
        ])


def name_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="name (simplified script, pinyin)",
        comparison_levels=[
            cll.NullLevel("name_key"),
            cll.ExactMatchLevel("name_key", term_frequency_adjustments=True).configure(
                label_for_charts="the same name in simplified script"),
            cll.ExactMatchLevel("name_pinyin").configure(
                label_for_charts="the same pinyin (homophones)"),
            cll.CustomLevel("surname_l = surname_r AND length(name_key_l) = length(name_key_r) "
                            "AND levenshtein(name_key_l, name_key_r) = 1",
                            "same family name, one given character different"),
            cll.ExactMatchLevel("name_tokens").configure(
                label_for_charts="the same words in another order"),
            cll.ExactMatchLevel("name_chars").configure(
                label_for_charts="the same characters in another order"),
            cll.JaroWinklerLevel("name_pinyin", 0.92),
            cll.JaroWinklerLevel("name_pinyin", 0.80),
            cll.ElseLevel(),
        ])


def birth_comparison(dialect: str = "duckdb") -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="birth",
        comparison_description="birth date",
        comparison_levels=[
            cll.NullLevel("birth"),
            cll.ExactMatchLevel("birth").configure(label_for_charts="the same birth date"),
            _edits("birth", 1, "one digit different, or two adjacent digits swapped", dialect),
            cll.CustomLevel("birth_l = substr(birth_r, 1, 4) || substr(birth_r, 7, 2) || "
                            "substr(birth_r, 5, 2)", "day and month swapped"),
            cll.CustomLevel("substr(birth_l, 1, 6) = substr(birth_r, 1, 6)",
                            "same year and month"),
            cll.CustomLevel(_within_a_year(dialect), "within a year"),
            cll.ElseLevel(),
        ])


def birth_vs_id_comparison() -> cl.CustomComparison:
    """A stated birth date against the date the other side's ID number embeds; only where the
    stated dates differ (where they agree, the birth date comparison has counted it)."""
    return cl.CustomComparison(
        output_column_name="birth_vs_id",
        comparison_description="birth date against the other's ID number",
        comparison_levels=[
            cll.CustomLevel("birth_l = birth_r OR ((birth_l IS NULL OR id_birth_r IS NULL) AND "
                            "(birth_r IS NULL OR id_birth_l IS NULL))",
                            "nothing to add").configure(is_null_level=True),
            cll.CustomLevel("birth_l = id_birth_r OR birth_r = id_birth_l",
                            "a stated date is the date in the other's number"),
            cll.ElseLevel(),
        ])


def settings(dialect: str = "duckdb") -> SettingsCreator:
    """The model's settings, its conditions written for `dialect` (DIALECTS)."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            id_comparison(dialect), name_comparison(), birth_comparison(dialect),
            birth_vs_id_comparison(),
            cl.ExactMatch("sex"),
            cl.ExactMatch("region").configure(term_frequency_adjustments=True),
            cl.ExactMatch("employer").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=BLOCKING,
        retain_intermediate_calculation_columns=True,  # each comparison's weight: evidence
        retain_matching_columns=True,  # Splink keeps each comparison's level (gamma_*) only so
        additional_columns_to_retain=["is_person", "changed"],
    )


BLOCK_KEYS = [
    ("id_area", "id_birth"),              # digits 1-14: damage in the sequence or check digit
    ("id_area", "id_tail"),               # damage in the birth-date part of the number
    ("birth", "surname_pinyin", "sex"),   # any damage to the number or the given name
    ("name_pinyin", "birth_ym"),          # number and birth day damaged (or a homophone)
    ("name_pinyin", "birth_yd"),          # number and birth month damaged
    ("birth", "given"),                   # the family name damaged too
    ("name_key", "id_area"),              # the number's date part and the birth damaged
    ("name_key", "id_birth"),             # the address code damaged, no birth date
]
"""Each a conjunction of equalities: no rule presupposes one kind of damage, and a pair needs
to agree on one rule's columns only. No key leans on a field of few values (a birth year, a
family name, a sex) with only one other: its blocks would grow with the estate (pinyin and
birth year put every 王伟 born in one year in one block, and made the comparisons per entity
grow fourfold from 20,000 to 200,000 persons). Pinyin covers the name key: equal keys have
equal pinyin."""
BLOCKING = [block_on(*keys) for keys in BLOCK_KEYS]
EM_KEYS = ["name_key", "birth"]
EM_BLOCKS = [block_on(key) for key in EM_KEYS]
"""EM learns m from the pairs of each block, for the comparisons not in the block's columns,
so that between them every level of every comparison is seen."""
TRAINING_PAIRS = 5e6
"""The most pairs an EM block may hold: beyond, training runs on a sample of the entities. A
block's pairs grow with the square of the estate (Chinese names are few: a name block held 12
million pairs at 200,000 persons and 300 million at a million, 22 GB resident), and a uniform
sample of a share s keeps s^2 of every kind of pair, so the share of true pairs in a block,
the prior and the u values are what they are over all entities. Chosen for cost (seconds and
memory of one EM pass), not for any score."""
PRIOR_RULES = ["l.name_key = r.name_key AND l.birth = r.birth AND l.sex = r.sex"]
PRIOR_RECALL = 0.7
"""How many of the true pairs the prior rule finds: a judgement (most damage touches one field,
rarely both the name and the birth date), not fitted to any estate."""

U_PAIRS = 1e7
"""Random pairs u is estimated from (fewer when the population has fewer)."""
MAX_FDR = 0.01
"""The share of false cases the threshold allows, as the model itself estimates it: a case is
opened for a pair at or above the lowest probability at which the expected share of false
pairs above it, the mean of (1 - p), is at most this (at least even odds, p >= 0.5)."""
FLOOR = 0.01
"""Pairs scored below this probability are not kept (they are neither cases nor evidence)."""
TF_COLUMNS = ("name_key", "region", "employer")


def _with_linker(entities: pd.DataFrame, model: dict | SettingsCreator, work):
    """work(linker, table) over the entities in a DuckDB of its own, and its result. The
    database is closed and every object of it collected before this returns: one left for the
    garbage collector would be destroyed in a forked worker, and crash it."""
    connection = duckdb.connect()
    # what does not fit in memory spills to the system's temporary folder (DuckDB's default
    # is ./.tmp, inside whatever folder jinbao was started from)
    connection.execute(f"SET temp_directory = '{tempfile.gettempdir()}/jinbao-duckdb'")
    try:
        db = DuckDBAPI(connection=connection)
        table = db.register(entities, dataset_display_name="entities")
        return work(Linker(table, model, log_level=logging.WARNING), table)
    finally:
        del db, table
        connection.close()
        gc.collect()


_TRAINED: dict[tuple, tuple[dict, float]] = {}


def forget_trained() -> None:
    """Drop the models this process remembers (a benchmark times training itself)."""
    _TRAINED.clear()


def trained(entities: pd.DataFrame) -> tuple[dict, float]:
    """(Splink's model JSON, the case threshold) learnt from these entities alone: the prior
    from PRIOR_RULES at PRIOR_RECALL, u from random pairs, m by EM over EM_BLOCKS, then the
    threshold from the model's own predictions (MAX_FDR), all over training_sample(entities)."""
    return trained_on(training_sample(entities))


def trained_on(sample: pd.DataFrame) -> tuple[dict, float]:
    """trained, on a training sample already taken (on Spark, say). Training is a function of
    the sample (u sampling is seeded), so a process that trains on the same sample again
    (warehouses loaded from one estate) gets the same model without the work."""
    compared = sample.drop(columns=["changed"], errors="ignore").sort_values("unique_id")
    key = (len(compared), int(pd.util.hash_pandas_object(compared, index=False).sum()))
    if key not in _TRAINED:
        if len(_TRAINED) >= 4:
            _TRAINED.pop(next(iter(_TRAINED)))
        _TRAINED[key] = _trained(sample)
    found, threshold = _TRAINED[key]
    return json.loads(json.dumps(found)), threshold


def block_pairs(entities: pd.DataFrame, key: str) -> int:
    """The pairs a block on `key` holds over these entities."""
    sizes = entities[key].value_counts(dropna=True).to_numpy(dtype="float64")
    return int((sizes * (sizes - 1) / 2).sum())


def sample_share(largest: int, entities: int, budget: float = TRAINING_PAIRS) -> float:
    """The share of the entities training learns from: 1, or, when the largest EM block holds
    `largest` pairs, more than `budget`, the share that brings it to about the budget."""
    if largest <= budget:
        return 1.0
    share = math.sqrt(budget / largest)
    log.info("linkage: an EM block would hold %d pairs; training on a %.3f sample of the "
             "%d entities", largest, share, entities)
    return share


def sampled(entities: pd.DataFrame, share: float) -> pd.DataFrame:
    """The entities whose id hashes below `share` of the hash range (the same entities give
    the same sample, whatever else is beside them)."""
    if share >= 1:
        return entities
    hashed = pd.util.hash_pandas_object(entities["unique_id"], index=False, hash_key=str(SEED)
                                        .rjust(16, "0")).to_numpy()
    return entities[hashed < np.uint64(share * 2.0**64)]


def training_sample(entities: pd.DataFrame, budget: float = TRAINING_PAIRS) -> pd.DataFrame:
    """The entities training learns from: all of them, or, when an EM block would hold more
    than `budget` pairs, a uniform sample (by a hash of the unique id, so the same entities
    give the same sample) of the share that brings the largest block to about the budget."""
    largest = max(block_pairs(entities, key) for key in EM_KEYS)
    return sampled(entities, sample_share(largest, len(entities), budget))


def _trained(entities: pd.DataFrame) -> tuple[dict, float]:
    # a level no trained block shows keeps its default m (Splink warns per level, per block)
    logging.getLogger("splink.internals.expectation_maximisation").setLevel(logging.ERROR)

    def train(linker, _table) -> dict:
        pairs = len(entities) * (len(entities) - 1) / 2
        linker.training.estimate_probability_two_random_records_match(PRIOR_RULES,
                                                                      recall=PRIOR_RECALL)
        if linker._settings_obj._probability_two_random_records_match * pairs < 1:
            # the rule found no pair at all (a few entities, or sources down): assume one
            linker._settings_obj._probability_two_random_records_match = 1 / max(pairs, 1)
        # one pass over one sample (no probing in chunks: the sample is the same size anyway)
        linker.training.estimate_u_using_random_sampling(max_pairs=min(U_PAIRS, pairs),
                                                         seed=SEED, num_chunks=1,
                                                         min_count_per_level=None)
        for block in EM_BLOCKS:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(block)
            except (ValueError, EMTrainingException) as error:  # too few pairs to learn from
                log.warning("linkage: EM over %s learnt nothing (%s); its comparisons keep "
                            "their earlier or default m values", block.get_blocking_rule(
                                "duckdb").blocking_rule_sql, str(error)[:120])
        return linker.misc.save_model_to_json()

    # on every core: what training sums does not depend on their order (u and the prior are
    # counts over pairs Splink samples by a hash of the ids, EM iterates over counts of
    # agreement patterns), and _canonical rounds away the last bits where it might
    model = _canonical(_with_linker(entities, settings(), train))
    predictions = scored(entities, model)
    return model, threshold_of(predictions["match_probability"])


def _canonical(model: dict, digits: int = 9) -> dict:
    """The model with its probabilities to `digits` significant digits and without the
    linker's random id. DuckDB sums in parallel, in no fixed order, so training the same
    entities twice differs in the last bits; rounded, it gives the same model (and the same
    cases) every time."""
    def rounded(value):
        return float(f"{value:.{digits - 1}e}") if isinstance(value, float) else value

    model.pop("linker_uid", None)
    model["probability_two_random_records_match"] = rounded(
        model["probability_two_random_records_match"])
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                if key in level:
                    level[key] = rounded(level[key])
    return model


def threshold_of(probabilities: pd.Series) -> float:
    """The lowest probability at which the pairs at or above it (ties included: pairs alike in
    every comparison score alike) are expected, by the model, to be false at most MAX_FDR of
    the time; never below even odds."""
    ranked = probabilities[probabilities >= 0.5].sort_values(ascending=False).to_numpy()
    if len(ranked) == 0:
        return 0.5
    expected_false = (1 - ranked).cumsum() / (1 + np.arange(len(ranked)))
    last_of_tie = np.append(ranked[1:] != ranked[:-1], True)
    allowed = ranked[(expected_false <= MAX_FDR) & last_of_tie]
    return float(allowed[-1]) if len(allowed) else float(ranked[0])


def term_frequencies(entities: pd.DataFrame, counts: dict[str, pd.Series] | None = None,
                     totals: dict[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """Per term-frequency column, each value's share of the population's non-null values.
    `counts` and `totals`: the whole population's value counts and non-null totals, when
    `entities` is a subset of it."""
    out = {}
    for column in TF_COLUMNS:
        population = counts[column] if counts else entities[column].value_counts()
        total = max(totals[column] if totals else int(population.sum()), 1)
        values = entities[column].dropna().unique()
        found = population.reindex(values).fillna(1).astype("float64")
        out[column] = pd.DataFrame({column: values, f"tf_{column}": found.to_numpy() / total})
    return out


def in_dialect(model: dict, dialect: str) -> dict:
    """A stored model with its SQL written for `dialect`: each comparison level's condition and
    each blocking rule as settings(dialect) writes them, every learnt parameter kept. A model
    whose comparisons are not this code's (an older jinbao trained it) is refused: retrain."""
    if model.get("sql_dialect", "duckdb") == dialect:
        return model
    fresh = settings(dialect).create_settings_dict(dialect)
    out = json.loads(json.dumps(model))
    for stored, written in zip(out["comparisons"], fresh["comparisons"], strict=False):
        labels = [[lv.get("label_for_charts") for lv in c["comparison_levels"]]
                  for c in (stored, written)]
        if stored["output_column_name"] != written["output_column_name"] or labels[0] != labels[1]:
            raise ValueError(f"the stored model's comparison {stored['output_column_name']!r} is "
                             "not this jinbao's: retrain it (jinbao match train)")
        for level, condition in zip(stored["comparison_levels"], written["comparison_levels"],
                                    strict=True):
            level["sql_condition"] = condition["sql_condition"]
    if len(out["comparisons"]) != len(fresh["comparisons"]):
        raise ValueError("the stored model's comparisons are not this jinbao's: retrain it "
                         "(jinbao match train)")
    out["blocking_rules_to_generate_predictions"] = fresh["blocking_rules_to_generate_predictions"]
    out["sql_dialect"] = dialect
    return out


def for_changed(model: dict) -> dict:
    """The model with each blocking rule limited to pairs that involve a changed entity."""
    changed = json.loads(json.dumps(model))
    for rule in changed["blocking_rules_to_generate_predictions"]:
        rule["blocking_rule"] = f"({rule['blocking_rule']}) AND (l.changed = 1 OR r.changed = 1)"
    return changed


KEPT_PREFIXES = ("unique_id", "match_", "gamma_", "mw_", "is_person", "changed")
"""The columns of a scored pair kept: ids, probability and weight, each comparison's level and
weight (the values compared stay out of the evidence)."""


def scored(entities: pd.DataFrame, model: dict, changed_only: bool = False,
           counts: dict[str, pd.Series] | None = None, totals: dict[str, int] | None = None
           ) -> pd.DataFrame:
    """Candidate pairs from the blocking rules, scored by the model, kept from FLOOR up:
    unique_id_l, unique_id_r, match_probability, match_weight, and per comparison its level
    (gamma_*) and weight (mw_*, term-frequency adjustments in mw_tf_adj_*)."""
    if len(entities) < 2:
        return pd.DataFrame(columns=["unique_id_l", "unique_id_r", "match_probability",
                                     "match_weight"])
    rules = for_changed(model) if changed_only else model

    def predict(linker, table) -> pd.DataFrame:
        for column, frequencies in term_frequencies(entities, counts, totals).items():
            lookup = linker._db_api.register(frequencies, dataset_display_name=f"tf_{column}")
            linker.table_management.register_term_frequency_lookup(lookup, column)
        return linker.inference.predict_within(table, threshold_match_probability=FLOOR,
                                               warning_mode="never").as_pandas_dataframe()

    result = _with_linker(entities, rules, predict)
    kept = [c for c in result.columns if c.startswith(KEPT_PREFIXES)]
    return result[kept]  # the values compared stay out of the evidence


def levels(model: dict) -> dict[str, dict[int, str]]:
    """Each comparison's levels by their gamma value (-1 for the null level), labelled."""
    out = {}
    for comparison in model["comparisons"]:
        found = comparison["comparison_levels"]
        values, n = {}, sum(1 for level in found if not level.get("is_null_level"))
        for level in found:
            if level.get("is_null_level"):
                values[-1] = level.get("label_for_charts", "missing")
            else:
                n -= 1
                values[n] = level.get("label_for_charts", level["sql_condition"])
        out[comparison["output_column_name"]] = values
    return out


def prior_weight(model: dict) -> float:
    """log2 of the prior odds two random entities are one person."""
    p = model["probability_two_random_records_match"]
    return math.log2(p / (1 - p))


def level_weights(model: dict) -> dict[tuple[str, str], tuple[float, bool]]:
    """(comparison, level label) -> (the level's weight, log2(m / u), as scoring uses it;
    whether m and u were both learnt). A level no training pair showed keeps Splink's default
    for its place in the comparison."""
    from splink.internals.comparison_level import _default_m_values, _default_u_values

    out = {}
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        found = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        m_default, u_default = _default_m_values(len(found)), _default_u_values(len(found))
        for place, level in enumerate(found):
            gamma = len(found) - 1 - place
            m, u = level.get("m_probability"), level.get("u_probability")
            m = 1e-6 if m == "level not observed in training dataset" else m
            u = 1e-6 if u == "level not observed in training dataset" else u
            learnt = m is not None and u is not None
            m, u = m or m_default[gamma], u or u_default[gamma]
            out[(name, level.get("label_for_charts", level["sql_condition"]))] = (
                math.log2(m / u), learnt)
    return out


def changes(old: dict | None, new: dict) -> list[dict]:
    """What a retrained model changed: the prior, then each level whose weight moved by 0.05
    or more, or that was learnt in one model and not the other."""
    before = level_weights(old) if old else {}
    rows = [{"comparison": "prior", "level": "two random entities are one person",
             "before": prior_weight(old) if old else None, "after": prior_weight(new),
             "learnt_before": bool(old), "learnt_after": True}]
    for key, (weight, learnt) in level_weights(new).items():
        was, was_learnt = before.get(key, (None, False))
        if was is None or abs(weight - was) >= 0.05 or learnt != was_learnt:
            rows.append({"comparison": key[0], "level": key[1], "before": was, "after": weight,
                         "learnt_before": was_learnt, "learnt_after": learnt})
    return rows


def comparison_counts(entities: pd.DataFrame, model: dict) -> dict[str, int]:
    """How many pairs each of the model's blocking rules adds over these entities (a pair
    counts for the first rule that finds it; the sum is the work a full match does)."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    rules = [r["blocking_rule"] for r in model["blocking_rules_to_generate_predictions"]]

    def count(_linker, table) -> dict[str, int]:
        found = count_comparisons_from_blocking_rules(
            table, blocking_rules=rules, link_type="dedupe_only", record_sample_proportion=1.0)
        return {rule: int(r["marginal_comparison_count"]) for rule, r in zip(rules, found,
                                                                             strict=True)}

    return _with_linker(entities, model, count)
