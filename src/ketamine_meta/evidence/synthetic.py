"""A synthetic evidence base: a valid data package of simulated trials with known effects.

``write_synthetic_package(template, out, trials, seed)`` copies the template package's
descriptor and its non-trial tables (sources, claims, published estimates, bioavailability,
durability cohorts), adds one source for the simulation, and writes simulated trials:
every formulation (racemic IV, IN, oral, IM; esketamine IN, IV; arketamine), inert and
active placebo controls, two-dose multi-arm trials, crossover trials, depression scores at
2 h, 24 h, 7 d and 28 d, response counts, dissociation events and relapse medians. The true
effects are written beside the package (``truth.json``), so that an analysis can be checked
against them. Every number is labelled as simulated; none may be read as evidence. The
template is checked before anything is written, and at most :data:`MAX_TRIALS` trials are
simulated.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ketamine_meta.evidence.package_source import DESCRIPTOR, PackageSourceError, parse_descriptor

SOURCE_ID = "synthetic_simulation"
LOCATOR = "simulated by ketamine-meta synth (not evidence)"
#: Formulations: (drug, route, dose, dose unit, control drug, true g at 24 h).
FORMULATIONS = (
    ("racemic_ketamine", "IV", 0.5, "mg_per_kg", "saline_placebo", 0.70),
    ("racemic_ketamine", "IV", 0.5, "mg_per_kg", "midazolam", 0.55),
    ("racemic_ketamine", "IN", 50.0, "mg", "intranasal_placebo", 0.60),
    ("racemic_ketamine", "PO", 150.0, "mg", "oral_placebo", 0.40),
    ("racemic_ketamine", "IM", 0.5, "mg_per_kg", "saline_placebo", 0.65),
    ("esketamine", "IN", 84.0, "mg", "intranasal_placebo", 0.45),
    ("esketamine", "IV", 0.2, "mg_per_kg", "saline_placebo", 0.60),
    ("arketamine", "IV", 0.5, "mg_per_kg", "saline_placebo", 0.10),
)
#: Hours of the simulated visits and the share of the 24 h effect at each.
TIMEPOINTS = ((2.0, 0.9), (24.0, 1.0), (168.0, 0.6), (672.0, 0.35))
#: Between-trial SD of the true effect (tau) and of the scores within an arm.
TAU = 0.15
SCORE_SD = 8.0
#: Tables copied from the template unchanged (they describe no trial).
COPIED = ("bioavailability", "published_estimates", "claims", "durability_cohorts")
#: Tables written with simulated rows.
SIMULATED = ("studies", "arms", "outcomes", "adverse_events", "relapse")
#: Most trials simulated at once: far above any real evidence base (hundreds of trials) and
#: below the 456,976 distinct study ids. At the bound a package takes about two minutes and
#: 240 MB (measured: 11 s and 24 MB for 10,000 trials); 1e9 trials would take days.
MAX_TRIALS = 100_000


@dataclass(frozen=True)
class SyntheticTrial:
    """One simulated trial's design and its true effect at 24 h."""

    study_id: str
    formulation: int
    design: str
    population: str
    arms: int
    n_per_arm: int
    true_g: float


def _csv(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _fields(descriptor: dict, name: str) -> list[str]:
    resource = next(r for r in descriptor["resources"] if r["name"] == name)
    return [f["name"] for f in resource["schema"]["fields"]]


def synthetic_study_id(index: int) -> str:
    """The id of the ``index``-th simulated trial.

    ``Synth`` + the index in letters (aaaa, aaab, ...) + 2026: the package's id pattern
    (surname, year), with room for 456,976 trials.
    """
    letters = ""
    for _ in range(4):
        index, digit = divmod(index, 26)
        letters = chr(ord("a") + digit) + letters
    return f"Synth{letters}2026"


def simulate_trials(trials: int, seed: int) -> list[SyntheticTrial]:
    """Draw each trial's formulation, design, population, size and true effect."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(trials):
        formulation = int(rng.integers(len(FORMULATIONS)))
        design = "crossover" if rng.random() < 0.15 else "parallel"
        out.append(
            SyntheticTrial(
                study_id=synthetic_study_id(i),
                formulation=formulation,
                design=design,
                population=str(rng.choice(["MDD", "TRD", "TRD", "bipolar", "mixed"])),
                arms=3 if design == "parallel" and rng.random() < 0.2 else 2,
                n_per_arm=int(rng.integers(15, 120)),
                true_g=float(FORMULATIONS[formulation][5] + rng.normal(0.0, TAU)),
            )
        )
    return out


def _trial_rows(trial: SyntheticTrial, rng: np.random.Generator) -> dict[str, list[dict]]:
    drug, route, dose, unit, control, _ = FORMULATIONS[trial.formulation]
    common = {"study_id": trial.study_id, "source_id": SOURCE_ID, "locator": LOCATOR}
    arm_ids = ["ctl"] + [f"act{j}" for j in range(1, trial.arms)]
    arms = [
        {
            **common,
            "arm_id": "ctl",
            "drug": control,
            "route": route,
            "sessions": 1,
            "n_randomized": trial.n_per_arm,
        }
    ] + [
        {
            **common,
            "arm_id": a,
            "drug": drug,
            "route": route,
            "dose": dose * j,
            "dose_unit": unit,
            "sessions": 1,
            "n_randomized": trial.n_per_arm,
        }
        for j, a in enumerate(arm_ids[1:], start=1)
    ]
    outcomes, events = [], []
    for arm in arm_ids:
        active = arm != "ctl"
        for hours, share in TIMEPOINTS:
            shift = trial.true_g * share * SCORE_SD if active else 0.0
            sd = SCORE_SD * float(
                np.sqrt(rng.chisquare(trial.n_per_arm - 1) / (trial.n_per_arm - 1))
            )
            mean = -8.0 - shift + rng.normal(0.0, SCORE_SD / np.sqrt(trial.n_per_arm))
            outcomes.append(
                {
                    **common,
                    "arm_id": arm,
                    "outcome": "depression_score",
                    "scale": "MADRS",
                    "timepoint_h": hours,
                    "n": trial.n_per_arm,
                    "mean": round(mean, 4),
                    "sd": round(sd, 4),
                    "sd_source": "reported",
                    "value_type": "change",
                    "crossover_period": "first" if trial.design == "crossover" else "",
                    "data_basis": "primary",
                }
            )
        # Response at 24 h: 15 % on the control, the log risk ratio rising with the effect.
        p = min(0.9, 0.15 * float(np.exp(1.6 * trial.true_g))) if active else 0.15
        outcomes.append(
            {
                **common,
                "arm_id": arm,
                "outcome": "response",
                "scale": "MADRS",
                "timepoint_h": 24.0,
                "n": trial.n_per_arm,
                "events": int(rng.binomial(trial.n_per_arm, p)),
                "crossover_period": "first" if trial.design == "crossover" else "",
                "data_basis": "primary",
            }
        )
        events.append(
            {
                **common,
                "arm_id": arm,
                "event": "dissociation",
                "events": int(rng.binomial(trial.n_per_arm, 0.3 if active else 0.05)),
                "n": trial.n_per_arm,
            }
        )
    relapse = (
        [
            {
                **common,
                "arm_id": "act1",
                "regimen": "after_course",
                "measure": "median_days_to_relapse",
                "value": round(float(rng.gamma(4.0, 5.0)), 1),
                "n": trial.n_per_arm,
            }
        ]
        if rng.random() < 0.2
        else []
    )
    study = {
        **common,
        "year": 2000 + int(rng.integers(0, 26)),
        "design": trial.design,
        "population": trial.population,
        "setting": "standard",
        "title": f"Simulated trial {trial.study_id}",
    }
    return {
        "studies": [study],
        "arms": arms,
        "outcomes": outcomes,
        "adverse_events": events,
        "relapse": relapse,
    }


def template_descriptor(template: Path) -> dict:
    """The template package's descriptor, checked to hold what the simulation writes.

    Raises
    ------
    PackageSourceError
        Naming the file: no descriptor or one that cannot be used
        (:func:`~ketamine_meta.evidence.package_source.parse_descriptor`), a resource without
        a name or a ``schema.fields`` list of named fields, a table the simulation needs that
        is not listed, or a listed table to copy that is not there.
    """
    path = template / DESCRIPTOR
    if not path.is_file():
        raise PackageSourceError(f"{path}: no such file (the template package)")
    descriptor = parse_descriptor(path.read_bytes(), str(template))
    names = []
    for i, resource in enumerate(descriptor["resources"]):
        schema = resource.get("schema")
        fields = schema.get("fields") if isinstance(schema, dict) else None
        if not isinstance(resource.get("name"), str) or not (
            isinstance(fields, list) and all(isinstance(f, dict) and "name" in f for f in fields)
        ):
            raise PackageSourceError(
                f"{path}: resources[{i}] needs a 'name' and 'schema.fields' with named fields"
            )
        names.append(resource["name"])
    missing = [n for n in (*SIMULATED, "sources", *COPIED) if n not in names]
    if missing:
        raise PackageSourceError(f"{path}: no resource {', '.join(missing)} (needed by synth)")
    for resource in descriptor["resources"]:
        if resource["name"] in (*COPIED, "sources") and not (template / resource["path"]).is_file():
            raise PackageSourceError(f"{template / resource['path']}: no such file")
    return descriptor


def _sources_text(descriptor: dict, template: Path) -> str:
    """sources.csv of a synthetic package: the simulation, and the template's cited sources.

    Only the sources of the tables copied from the template: no trial here was read from a
    document.
    """
    fields = _fields(descriptor, "sources")
    paths = {resource["name"]: template / resource["path"] for resource in descriptor["resources"]}
    cited = set()
    for name in COPIED:
        with open(paths[name], encoding="utf-8", newline="") as handle:
            cited |= {row.get("source_id") for row in csv.DictReader(handle)}
    with open(paths["sources"], encoding="utf-8", newline="") as handle:
        kept = [row for row in csv.DictReader(handle) if row["source_id"] in cited]
    simulation = {
        "source_id": SOURCE_ID,
        "citation": "ketamine-meta synth (simulation)",
        "url": "https://example.invalid/ketamine-meta-synth",
        "source_kind": "review",
    }
    return _csv(fields, [*kept, simulation])


def synthetic_readme(trials: int, seed: int) -> str:
    """The README of a synthetic package: what it is, and what it is not."""
    simulated = ", ".join(f"`{name}.csv`" for name in SIMULATED)
    copied = ", ".join(f"`{name}.csv`" for name in COPIED)
    return f"""# Synthetic evidence base: {trials} simulated trials (seed {seed})

Written by `ketamine-meta synth --trials {trials} --seed {seed}`. **This is not evidence.** No
trial in it exists: {simulated} were drawn at random from the model whose true effects are in
`truth.json` (the true Hedges' g at 24 h of each formulation, tau, and the share of each
timepoint), so that a pipeline run on it can be checked against the truth.

{copied} are copied unchanged from the real package the simulation took its layout from,
with the rows of `sources.csv` they cite; every other row of `sources.csv` is the simulation
itself (`{SOURCE_ID}`). Claims and their verdicts computed from this package say nothing
about ketamine: they are the real texts' claims checked against simulated trials.

Use: `ketamine-meta validate .`, then point the pipeline's `data.source` at this folder.
"""


def write_synthetic_package(template: Path, out: Path, trials: int, seed: int) -> dict:
    """Write the package of ``trials`` simulated trials to ``out``; return the truth.

    Raises
    ------
    ValueError
        If ``trials`` is not between 1 and :data:`MAX_TRIALS` or ``seed`` is negative.
    PackageSourceError
        If the template cannot be used (:func:`template_descriptor`); nothing is written.
    """
    if not 1 <= trials <= MAX_TRIALS:
        raise ValueError(f"trials must lie between 1 and {MAX_TRIALS}, got {trials}")
    if seed < 0:
        raise ValueError(f"a seed must not be negative, got {seed}")
    descriptor = template_descriptor(template)
    descriptor["name"] = "ketamine-meta-synthetic"
    descriptor["title"] = f"Synthetic evidence base: {trials} simulated trials (seed {seed})"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    simulated = simulate_trials(trials, seed)
    tables: dict[str, list[dict]] = {n: [] for n in SIMULATED}
    for trial in simulated:
        for name, rows in _trial_rows(trial, rng).items():
            tables[name].extend(rows)
    for resource in descriptor["resources"]:
        name, path = resource["name"], out / resource["path"]
        if name in COPIED:
            shutil.copyfile(template / resource["path"], path)
        elif name == "sources":
            path.write_text(_sources_text(descriptor, template), encoding="utf-8")
        else:
            path.write_text(_csv(_fields(descriptor, name), tables.get(name, [])), encoding="utf-8")
    (out / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")
    (out / "README.md").write_text(synthetic_readme(trials, seed), encoding="utf-8")
    if (template / "LICENSE.md").exists():
        shutil.copyfile(template / "LICENSE.md", out / "LICENSE.md")
    truth = {
        "seed": seed,
        "trials": trials,
        "tau": TAU,
        "formulations": [
            {
                "drug": f[0],
                "route": f[1],
                "control": f[4],
                "true_g_24h": f[5],
                "trials": sum(t.formulation == i for t in simulated),
            }
            for i, f in enumerate(FORMULATIONS)
        ],
        "timepoint_shares": {f"{h:g}": s for h, s in TIMEPOINTS},
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth
