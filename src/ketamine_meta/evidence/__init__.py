"""The evidence: the extracted-trial data package and the workflow's input files.

Reading, validating and pulling the data package, and the guards on configuration files.
Uses :mod:`ketamine_meta.stats` only.
"""
