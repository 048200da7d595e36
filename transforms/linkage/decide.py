"""From scored pairs to review cases: pairs at or above the model's threshold are links, linked
entities form clusters (connected components), and each cluster of two or more entities is
one suspected_duplicate case, with the evidence a reviewer reads: every link's probability,
the prior, and each comparison's level and weight. Nothing here merges anyone.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from transforms.linkage.model import levels, prior_weight

CASE_KIND = "suspected_duplicate"
MAX_PAIRS_SHOWN = 12
EDGE = ["unique_id_l", "unique_id_r"]


def links(pairs: pd.DataFrame, threshold: float,
          apart: set[frozenset[str]] = frozenset()) -> pd.DataFrame:
    """The pairs at or above the threshold, less those a reviewer kept apart."""
    kept = pairs[pairs["match_probability"] >= threshold]
    if apart and len(kept):
        together = [frozenset(p) not in apart for p in zip(kept["unique_id_l"],
                                                           kept["unique_id_r"], strict=True)]
        kept = kept[together]
    return kept.reset_index(drop=True)


def clusters(edges: pd.DataFrame) -> list[list[str]]:
    """Connected components of the links (each a sorted list of unique ids, two or more)."""
    if edges.empty:
        return []
    ids = pd.Index(pd.unique(pd.concat([edges["unique_id_l"], edges["unique_id_r"]])))
    left, right = ids.get_indexer(edges["unique_id_l"]), ids.get_indexer(edges["unique_id_r"])
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=False)
    names = ids.to_numpy(dtype=object)
    order = np.lexsort((names, label))  # by component, then by id
    starts = np.flatnonzero(label[order][1:] != label[order][:-1]) + 1
    return [g.tolist() for g in np.split(names[order], starts) if len(g) > 1]


def _order(entities: list[str]) -> list[str]:
    """Persons (numbers) first, then rows (system|key), each sorted."""
    return sorted(entities, key=lambda e: ("|" in e, e))


def case_id(entities: list[str]) -> str:
    """Stable for the same set of entities, whatever found them."""
    return CASE_KIND + "-" + hashlib.sha1("|".join(sorted(entities)).encode()).hexdigest()[:16]


def _comparisons(edges: pd.DataFrame, model: dict) -> list[list[dict]]:
    """Per edge, each comparison's level (labelled) and weight: as stored (edges kept from
    earlier cases carry them) or from the scorer's gamma_* and mw_* columns, column by column."""
    stored = edges["comparisons"] if "comparisons" in edges else pd.Series(
        [None] * len(edges), index=edges.index, dtype=object)
    columns = []
    for comparison, labels in levels(model).items():
        gamma = edges.get(f"gamma_{comparison}")
        weight = pd.Series(0.0, index=edges.index)
        for part in (f"mw_{comparison}", f"mw_tf_adj_{comparison}"):
            if part in edges:
                weight = weight + pd.to_numeric(edges[part], errors="coerce").fillna(0.0)
        label = (["?"] * len(edges) if gamma is None else
                 [labels.get(int(g), str(g)) if pd.notna(g) else "?" for g in gamma])
        columns.append(zip([comparison] * len(edges), label, [round(w, 2) for w in weight.tolist()],
                           strict=True))
    built = [[{"comparison": c, "level": lv, "weight": w} for c, lv, w in row]
             for row in zip(*columns, strict=True)] if columns else [[]] * len(edges)
    return [s if isinstance(s, list) else b for s, b in zip(stored, built, strict=True)]


def case_frames(groups: list[list[str]], edges: pd.DataFrame, model: dict, version: int,
                threshold: float, rows_of: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """review_case and review_case_row frames, one case per cluster. `edges`: the links (scored
    pairs, or pairs kept from stored evidence, with the same columns); rows_of: the accepted
    rows of the persons concerned (id_number, source_system, source_key)."""
    columns = ["case_id", "kind", "id_number", "id_numbers", "attribute", "score", "evidence"]
    row_columns = ["case_id", "source_system", "source_key", "id_number"]
    if not groups:
        return pd.DataFrame(columns=columns), pd.DataFrame(columns=row_columns)
    prior = prior_weight(model)
    edges = edges.reset_index(drop=True)
    evidence = _comparisons(edges, model)
    by_entity: dict[str, list] = {}
    for pair, listed in zip(edges[[*EDGE, "match_probability", "match_weight"]].itertuples(
            index=False), evidence, strict=True):
        by_entity.setdefault(pair.unique_id_l, []).append((pair, listed))
    cases, rows = [], []
    for group in groups:
        entities = _order(group)
        number = {e: i + 1 for i, e in enumerate(entities)}
        inside = [p for e in entities for p in by_entity.get(e, ()) if p[0].unique_id_r in number]
        # a total order: equal probabilities are common (duplicate rows), and the order the
        # scorer returns pairs in depends on its threads, which decides the pairs shown
        inside.sort(key=lambda p: (-round(float(p[0].match_probability), 6),
                                   sorted([number[p[0].unique_id_l], number[p[0].unique_id_r]])))
        pairs = [{"between": sorted([number[p.unique_id_l], number[p.unique_id_r]]),
                  "probability": round(float(p.match_probability), 6),
                  "weight": round(float(p.match_weight), 2), "prior": round(prior, 2),
                  "comparisons": listed}
                 for p, listed in inside[:MAX_PAIRS_SHOWN]]
        persons = [e for e in entities if "|" not in e]
        ident = case_id(entities)
        cases.append({
            "case_id": ident, "kind": CASE_KIND, "id_number": persons[0] if persons else None,
            "id_numbers": json.dumps(persons), "attribute": None,
            "score": max((p["weight"] for p in pairs), default=None),
            "evidence": json.dumps({"entities": entities, "model": version,
                                    "threshold": round(threshold, 6),
                                    "probability": max((p["probability"] for p in pairs),
                                                       default=None),
                                    "pairs": pairs}, ensure_ascii=False)})
        for entity in entities:
            if "|" in entity:
                system, _, key = entity.partition("|")
                rows.append({"case_id": ident, "source_system": system, "source_key": key,
                             "id_number": None})
    frame = pd.DataFrame(cases, columns=columns)
    loose = pd.DataFrame(rows, columns=row_columns)
    ends = frame[["case_id", "id_numbers"]].assign(
        id_number=frame["id_numbers"].map(json.loads)).explode("id_number").dropna(
        subset=["id_number"])
    people = ends[["case_id", "id_number"]].merge(rows_of, on="id_number")
    case_rows = pd.concat([people[row_columns], loose], ignore_index=True).drop_duplicates()
    return frame, case_rows


def stored_edges(evidence: pd.Series) -> pd.DataFrame:
    """The links stored cases record (entities by id, probability, weight, comparisons): what
    an incremental run keeps for entities it did not change."""
    found = []
    for text in evidence.dropna():
        case = json.loads(text)
        entities = case.get("entities", [])
        for pair in case.get("pairs", []):
            i, j = pair["between"]
            found.append({"unique_id_l": entities[i - 1], "unique_id_r": entities[j - 1],
                          "match_probability": pair["probability"],
                          "match_weight": pair["weight"], "comparisons": pair["comparisons"]})
    return pd.DataFrame(found, columns=[*EDGE, "match_probability", "match_weight",
                                        "comparisons"])
