# Bayesian random-effects answers (PROTOCOL.md §23) beside the frequentist ones: Hedges' g and
# the risk ratio of response per subgroup under each prior on tau, racemic against
# esketamine, shrunken trial estimates, the posterior curves and the claims worded as a
# threshold. One job writes the tables, one draws the figures, one answers the claims once
# they are audited (ketamine_meta.analyses.bayesian, figures.bayesian_plots). Each output is
# shown in the report under the question it answers (efficacy, response, claims).

BAYESIAN = OUTPUTS.register(
    "bayesian",
    "Bayesian",
    tables={
        "smd": Table(
            f"bayesian_smd_{TIMEPOINT_LABEL}_by_subgroup",
            "bayesian_by_subgroup",
            "the posterior of pooled g per route, enantiomer and control type under each "
            "prior on tau, P(g > threshold), the frequentist row of the same trials beside",
            "Efficacy",
        ),
        "rr": Table(
            f"bayesian_rr_response_{TIMEPOINT_LABEL}_by_subgroup",
            "bayesian_by_subgroup",
            "the posterior of the pooled risk ratio of response per subgroup and prior, "
            "P(RR > threshold), the frequentist row beside",
            "Response",
        ),
        "enantiomer": Table(
            f"bayesian_racemic_vs_esketamine_{TIMEPOINT_LABEL}",
            "bayesian_racemic_vs_esketamine",
            "P(racemic better than esketamine) under each prior, within and between trials "
            "kept apart",
            "Efficacy",
        ),
        "shrinkage": Table(
            f"bayesian_shrinkage_smd_{TIMEPOINT_LABEL}",
            "bayesian_shrinkage",
            "each trial's g beside its shrunken estimate under the primary prior",
            "Efficacy",
        ),
        "curves": Table(
            f"bayesian_curves_smd_{TIMEPOINT_LABEL}",
            "bayesian_curves",
            "the posterior densities the figure draws: mu per subgroup, tau with its priors",
            "Efficacy",
        ),
        "claims": Table(
            "bayesian_claims",
            "bayesian_claims",
            "posterior probabilities beside the verdicts of the claims worded as a threshold of g",
            "Claims",
        ),
    },
    figures={
        "posterior": Figure(
            f"bayesian_posterior_smd_{TIMEPOINT_LABEL}",
            "bayesian_posterior",
            "posterior densities of pooled g per route and enantiomer, and of tau with each "
            "prior drawn",
            "Efficacy",
        ),
        "shrinkage": Figure(
            f"bayesian_shrinkage_smd_{TIMEPOINT_LABEL}",
            "bayesian_shrinkage_forest",
            "each trial's g and its shrunken estimate, with the pooled posterior",
            "Efficacy",
        ),
    },
)


rule bayesian_tables:
    """The Bayesian posterior of g and of the response risk ratio per subgroup and prior,
    racemic against esketamine, shrunken estimates and the curves of the figure."""
    input:
        smd=EFFICACY.table("by_study").path,
        rr=RESPONSE.table("rr_by_study").path,
        validated=validated_tables("studies", "arms", "outcomes", "contrasts"),
    output:
        **BAYESIAN.table_paths(["smd", "rr", "enantiomer", "shrinkage", "curves"]),
    log:
        "logs/bayesian_tables.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        bayesian=config["bayesian"],
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        protocol=PROTOCOL,
    script:
        "../scripts/bayesian_tables.py"


rule bayesian_figures:
    """Posterior densities with the priors drawn, and the forest of shrunken estimates."""
    input:
        **BAYESIAN.table_paths(["curves", "shrinkage"]),
    output:
        **figure_outputs_of(BAYESIAN),
    log:
        "logs/bayesian_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        bayesian=config["bayesian"],
        timepoint_h=config["pooling"]["timepoint_h"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/bayesian_figures.py"


rule bayesian_claims:
    """Posterior probabilities beside the frequentist verdicts of the claims worded as a
    threshold of g (PROTOCOL.md §23)."""
    input:
        audit=CLAIMS.table("audit").path,
        smd=EFFICACY.table("by_study").path,
        enantiomer=BAYESIAN.table("enantiomer").path,
        validated=validated_tables("claims", "published_estimates"),
        mapping="config/claims.yaml",
        schema=WORKFLOW_DIR / "schemas" / "claims.schema.yaml",
    output:
        table=BAYESIAN.table("claims").path,
    log:
        "logs/bayesian_claims.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        bayesian=config["bayesian"],
    script:
        "../scripts/bayesian_claims.py"
