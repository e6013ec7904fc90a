"""The ketamine questions, answered from the data package under the analysis protocol.

Comparisons, the pooled analyses, relapse, reproductions of published meta-analyses, the claims
audit and the trace behind each number. Uses :mod:`ketamine_meta.evidence` and
:mod:`ketamine_meta.stats`.
"""
