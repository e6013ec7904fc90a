# Efficacy (PROTOCOL.md §11-§16): how much ketamine lowers depression scores at the primary
# timepoint, by route and enantiomer, and how sure the pooled g is. One job writes the tables,
# one draws the figures from them (ketamine_meta.analyses.efficacy, figures.efficacy_plots).

EFFICACY = OUTPUTS.register(
    "efficacy",
    "Efficacy",
    tables={
        "by_study": Table(
            f"smd_{TIMEPOINT_LABEL}_by_study",
            "smd_by_study",
            "every comparison of the primary analysis: arm means, SDs and sizes, g and its "
            "variance, the data basis, the within-person correlation of crossover rows, and per "
            "arm the source and locator the numbers were read from",
        ),
        "pooled_by_route": Table(
            f"pooled_smd_{TIMEPOINT_LABEL}_by_route",
            "pooled_smd_by_route",
            "pooled Hedges' g of the depression score per route and overall (random effects "
            "on one estimate per trial, the configured model, prediction interval where "
            "identified, Q, I²; `k`, `trials`, `dependence`, and `display` below the minimum "
            "number of trials), and the test for subgroup differences",
        ),
        **{
            f"pooled_by_{moderator}": Table(
                f"pooled_smd_{TIMEPOINT_LABEL}_by_{moderator}",
                "pooled_smd_by_moderator",
                f"the same, per {moderator.replace('_', ' ')}; every pooled table names the "
                "control types in each row (`controls`)",
                wildcards=(("moderator", moderator),),
            )
            for moderator in SMD_MODERATORS
        },
        "subgroup_tests": Table(
            f"subgroup_tests_smd_{TIMEPOINT_LABEL}",
            "subgroup_tests_smd",
            "tests for subgroup differences per moderator, with separate and with a common tau²",
            "Sensitivity",
        ),
        "leave_one_out": Table(
            f"leave_one_out_smd_{TIMEPOINT_LABEL}",
            "leave_one_out_smd",
            "the pooled g with each trial left out",
            "Sensitivity",
        ),
        "influence": Table(
            f"influence_smd_{TIMEPOINT_LABEL}",
            "influence_smd",
            "influence diagnostics per trial (studentized residual, DFFITS, Cook's distance, "
            "covariance ratio, hat, weight, DFBETAS, metafor's influential flag)",
            "Sensitivity",
        ),
        "cumulative": Table(
            f"cumulative_smd_{TIMEPOINT_LABEL}_by_year",
            "cumulative_smd",
            "cumulative pooling by year",
            "Sensitivity",
        ),
        "heterogeneity": Table(
            f"heterogeneity_smd_{TIMEPOINT_LABEL}",
            "heterogeneity_smd",
            "tau², tau, I², H² with Q-profile confidence intervals",
            "Sensitivity",
        ),
        "publication_bias": Table(
            f"publication_bias_smd_{TIMEPOINT_LABEL}",
            "publication_bias_smd",
            "Egger's regression test with the limit estimate, the rank correlation test, "
            "trim-and-fill",
            "Sensitivity",
        ),
        "crossover_correlation": Table(
            f"sensitivity_smd_{TIMEPOINT_LABEL}_crossover_correlation",
            "crossover_correlation_sensitivity",
            "the overall estimate for each assumed within-person correlation of crossover trials",
            "Sensitivity",
        ),
        "analysis_sets": Table(
            f"sensitivity_smd_{TIMEPOINT_LABEL}_analysis_sets",
            "analysis_set_sensitivity",
            "the primary analysis rerun in each pre-specified sensitivity set of PROTOCOL.md §16",
            "Sensitivity",
        ),
        "head_to_head": Table(
            f"enantiomer_head_to_head_{TIMEPOINT_LABEL}",
            "enantiomer_head_to_head",
            "racemic against esketamine: within head-to-head trials, and the between-trial "
            "difference in pooled g (meta-regression)",
        ),
    },
    figures={
        "forest": Figure(
            f"forest_smd_{TIMEPOINT_LABEL}_by_route",
            "forest_smd_by_route",
            "the forest plot of the pooled g by route",
        ),
        "funnel": Figure(
            f"funnel_smd_{TIMEPOINT_LABEL}",
            "funnel_smd",
            "the funnel plot of the primary analysis with Egger's test",
            "Sensitivity",
        ),
        "benchmark": Figure(
            "effect_size_benchmark",
            "effect_size_benchmark",
            "ketamine's pooled g beside the antidepressant benchmark and the claimed range",
        ),
    },
    traced={
        f"smd_{TIMEPOINT_LABEL}": Traced(
            "by_study",
            (
                "pooled_by_route",
                *(f"pooled_by_{moderator}" for moderator in SMD_MODERATORS),
            ),
            ("route", "enantiomer", "control_type", "population", "study_id"),
        ),
    },
)


rule efficacy_tables:
    """Hedges' g at the primary timepoint pooled by route and by each moderator, one estimate
    per trial (PROTOCOL.md §11), with the tests for subgroup differences, the sensitivity
    analyses of §16, the small-study tests and the racemic-esketamine head-to-head."""
    input:
        effects="data/processed/effect_sizes.csv",
        validated=validated_tables("studies", "arms", "outcomes", "contrasts"),
    output:
        **EFFICACY.table_paths(),
    log:
        "logs/efficacy_tables.log",
    priority: CRITICAL_PATH
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        protocol=PROTOCOL,
        moderators=SMD_MODERATORS,
        subgroup_moderators=config["sensitivity"]["moderators"],
        correlations=config["sensitivity"]["crossover_correlations"],
        sets=config["sensitivity"]["analysis_sets"],
    script:
        "../scripts/efficacy_tables.py"


rule efficacy_figures:
    """The forest plot of g by route, the funnel plot with Egger's test and the effect-size
    benchmark, drawn from the efficacy tables."""
    input:
        **EFFICACY.table_paths(["by_study", "pooled_by_route", "publication_bias"]),
        validated=validated_tables("published_estimates", "claims"),
    output:
        **figure_outputs_of(EFFICACY),
    log:
        "logs/efficacy_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        level=config["pooling"]["level"],
        timepoint_h=config["pooling"]["timepoint_h"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/efficacy_figures.py"
