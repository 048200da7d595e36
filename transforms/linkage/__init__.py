"""Probabilistic linkage on Splink 5 (DuckDB): which entities whose ID numbers differ are
probably one person.

    entities   the records compared: golden persons and rows quarantined for their number
    model      Splink settings as code (graded comparisons, blocking rules) and training
    decide     links at the model's threshold, clusters, one review case per cluster

The warehouse side (the entity index, stored models, incremental refresh) is loaders.matching.
"""
