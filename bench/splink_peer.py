"""The peer a user would pick instead of jinbao's matcher: Splink 5 as its documentation
teaches it, with library comparisons only (Levenshtein on the number, Splink's name and
date-of-birth comparisons, exact sex, region and employer), on the same entities and the same
candidate pairs (jinbao's blocking rules), trained the documented way (prior from a
deterministic rule, u by random sampling, m by EM on two blocks), clustered at the
tutorials' 0.9. Nothing here is tuned to any score.
"""

from __future__ import annotations

import time

import pandas as pd
import splink.comparison_library as cl
from splink import SettingsCreator

from transforms.linkage import decide, model

THRESHOLD = 0.9  # the threshold Splink's tutorials cluster at


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.LevenshteinAtThresholds("id_number", [1, 2]),
            cl.NameComparison("name_key"),
            cl.DateOfBirthComparison("birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("region").configure(term_frequency_adjustments=True),
            cl.ExactMatch("employer").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=model.BLOCKING,
    )


def peer_clusters(entities: pd.DataFrame) -> dict:
    """Train the plain model on the entities, predict, cluster: the clusters and seconds."""
    began = time.perf_counter()
    sample = model.training_sample(entities)  # the same pair budget as jinbao's training

    def train(linker, _table) -> dict:
        linker.training.estimate_probability_two_random_records_match(model.PRIOR_RULES,
                                                                      recall=model.PRIOR_RECALL)
        linker.training.estimate_u_using_random_sampling(max_pairs=model.U_PAIRS,
                                                         seed=model.SEED)
        for block in model.EM_BLOCKS:
            linker.training.estimate_parameters_using_expectation_maximisation(block)
        return linker.misc.save_model_to_json()

    trained = model._with_linker(sample, settings(), train)
    trained_at = time.perf_counter()

    def predict(linker, table) -> pd.DataFrame:
        for column in ("name_key", "region", "employer"):
            linker.table_management.compute_tf_table(column)
        return linker.inference.predict_within(table, threshold_match_probability=THRESHOLD,
                                               warning_mode="never").as_pandas_dataframe()

    pairs = model._with_linker(entities, trained, predict)
    groups = decide.clusters(pairs[decide.EDGE])
    return {"clusters": groups, "train_seconds": round(trained_at - began, 2),
            "match_seconds": round(time.perf_counter() - trained_at, 2)}
