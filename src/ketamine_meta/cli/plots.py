"""``ketamine-meta forest`` and ``funnel``: the pipeline's figures drawn from anyone's CSV.

The same drawing functions as the pipeline's figures (:func:`~ketamine_meta.figures.plotting.
forest_plot`, :func:`~ketamine_meta.figures.efficacy_plots.funnel_plot`) and the same rules:
the model is named under the plot, a prediction interval is drawn only where it is defined,
and the input is read and checked as ``pool`` reads it (rows with a missing value left out
with a note, as ``na.action = na.omit``). SVG and PNG, without timestamps, so the same input
gives the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ketamine_meta.cli.errors import UsageError
from ketamine_meta.cli.pool_options import NA_ACTIONS, omit_missing
from ketamine_meta.figures.efficacy_plots import funnel_plot
from ketamine_meta.figures.plotting import (
    ForestLabels,
    deterministic_style,
    forest_plot,
    save_figure,
)
from ketamine_meta.stats.meta_analysis import pool_by_subgroup, random_effects
from ketamine_meta.stats.publication_bias import egger_test
from ketamine_meta.stats.tau2 import ESTIMATORS

FORMATS = ("svg", "png")


def _studies(args: argparse.Namespace, reader) -> pd.DataFrame:
    """The rows to draw: ``label, n_treat, n_ctrl, yi, vi, subgroup``, checked as pool checks."""
    read_csv, require_columns, numeric, check_inputs = reader
    optional = [c for c in (args.label, args.n1, args.n2) if c]
    text = [c for c in (args.label, args.by) if c]
    frame = read_csv(args.input, text_columns=tuple(text))
    require_columns(frame, [args.yi, args.vi, *text, *optional], args.input)
    if frame.empty:
        raise UsageError(f"{args.input}: no rows; at least one study is needed")
    frame = omit_missing(
        frame, [args.yi, args.vi, *([args.by] if args.by else [])], args.input, args.na_action
    )
    yi, vi = numeric(frame, args.yi, args.input), numeric(frame, args.vi, args.input)
    check_inputs(frame, args, yi, vi)
    if not np.isfinite(vi).all():
        raise UsageError(
            f"{args.input}: column '{args.vi}': a study of infinite variance is not drawn"
        )
    labels = (
        frame[args.label].astype(str) if args.label else [f"Study {i + 1}" for i in frame.index]
    )
    return pd.DataFrame(
        {
            "label": list(labels),
            "n_treat": numeric(frame, args.n1, args.input) if args.n1 else np.nan,
            "n_ctrl": numeric(frame, args.n2, args.input) if args.n2 else np.nan,
            "yi": yi,
            "vi": vi,
            "subgroup": frame[args.by].astype(str).to_numpy() if args.by else "all",
        }
    )


def _outputs(output: str) -> dict[str, str]:
    """``FILE.svg`` and ``FILE.png`` from ``--output FILE`` (with or without a suffix)."""
    stem = Path(output)
    stem = stem.with_suffix("") if stem.suffix.lower() in (".svg", ".png") else stem
    if not stem.parent.is_dir():
        raise UsageError(f"--output {output}: no folder {stem.parent}")
    return {fmt: str(stem.with_suffix(f".{fmt}")) for fmt in FORMATS}


def cmd_forest(args: argparse.Namespace, reader) -> int:
    """A forest plot of the studies, per subgroup with ``--by``, and the pooled estimate."""
    studies = _studies(args, reader)
    pooled, _, _ = pool_by_subgroup(
        studies, by="subgroup", analysis="forest", method=args.method, test=args.test,
        level=args.level, n=None,
    )  # fmt: skip
    labels = ForestLabels(
        effect=args.effect,
        favours_left=args.favours[0],
        favours_right=args.favours[1],
        treat=args.treat_name,
        ctrl=args.control_name,
        exponentiate=args.exp,
    )
    with deterministic_style():
        figure = forest_plot(
            studies, pooled, "subgroup", {}, labels, args.level, blocks=bool(args.by)
        )
        for path in save_figure(figure, _outputs(args.output), args.dpi):
            print(path)
    return 0


def cmd_funnel(args: argparse.Namespace, reader) -> int:
    """A funnel plot around the pooled estimate, with Egger's test (metafor ``regtest``)."""
    studies = _studies(args, reader)
    fit = random_effects(studies["yi"], studies["vi"], args.method, args.test, args.level)
    if fit.k < 3:
        raise UsageError(f"{args.input}: {fit.k} studies; Egger's test needs at least 3")
    egger = pd.Series(vars(egger_test(fit)))
    with deterministic_style():
        figure = funnel_plot(
            studies,
            fit.estimate,
            egger,
            args.effect,
            groups="subgroup" if args.by else None,
            names={},
        )
        for path in save_figure(figure, _outputs(args.output), args.dpi):
            print(path)
    return 0


def add_parsers(sub, reader, decimal) -> None:
    """The ``forest`` and ``funnel`` subcommands; ``reader`` are ``pool``'s input helpers."""
    for name, command, about in (
        ("forest", cmd_forest, "forest plot of yi and vi (SVG and PNG)"),
        ("funnel", cmd_funnel, "funnel plot of yi and vi with Egger's test (SVG and PNG)"),
    ):
        p = sub.add_parser(name, help=about, description=__doc__.split("\n\n")[1])
        p.add_argument("--input", required=True, help="CSV file, or - for standard input")
        p.add_argument("--output", required=True, help="FILE: writes FILE.svg and FILE.png")
        p.add_argument("--yi", default="yi", help="column of effect estimates (default yi)")
        p.add_argument("--vi", default="vi", help="column of sampling variances (default vi)")
        p.add_argument("--label", metavar="COLUMN", help="study labels (default Study 1, ...)")
        p.add_argument("--by", metavar="COLUMN", help="subgroups, one block (colour) each")
        p.add_argument("--n1", metavar="COLUMN", help="treatment group sizes, shown per study")
        p.add_argument("--n2", metavar="COLUMN", help="control group sizes, shown per study")
        p.add_argument(
            "--method", default="REML", choices=list(ESTIMATORS), help="as pool (default REML)"
        )
        p.add_argument("--test", default="z", choices=["z", "knha", "adhoc"], help="as pool")
        p.add_argument("--level", default=0.95, type=decimal, help="confidence level (0.95)")
        p.add_argument("--na-action", default="omit", choices=NA_ACTIONS, help="as pool")
        p.add_argument("--effect", default="Effect size", help="the axis label")
        p.add_argument(
            "--exp", action="store_true", help="estimates are logs: draw ratios on a log axis"
        )
        p.add_argument(
            "--favours",
            nargs=2,
            default=("Favours control", "Favours treatment"),
            metavar=("LEFT", "RIGHT"),
            help="texts under the axis",
        )
        p.add_argument("--treat-name", default="Treatment", help="column title of --n1")
        p.add_argument("--control-name", default="Control", help="column title of --n2")
        p.add_argument("--dpi", default=200, type=int, help="PNG resolution (default 200)")
        p.set_defaults(func=lambda args, command=command: command(args, reader))
