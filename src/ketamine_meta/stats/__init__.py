"""The statistics engine, named and checked after R's metafor.

Effect sizes, tau² estimators, the model specification every fit carries
(:class:`~ketamine_meta.stats.model.ModelSpec`: estimator, test, level and the critical value),
random-effects models, meta-regression, sensitivity and small-study diagnostics, sparse-data
pooling, permutation tests and the Guyot reconstruction of Kaplan-Meier data. Generic: it knows
nothing of ketamine and imports nothing else of this project, so another project can use it
alone.
"""
