"""The figures, built as matplotlib Figures from the analyses' tables.

Journal-style forest plots, relapse curves and the claims audit's figures.
"""
