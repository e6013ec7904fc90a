rule dose_tables:
    """IV-equivalent doses by route (bioavailability) and per comparison, and the dose-response
    meta-regression of the primary analysis."""
    input:
        validated=VALIDATED_DIR,
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        by_route="results/tables/iv_equivalent_dose_by_route.csv",
        by_comparison="results/tables/iv_equivalent_dose_by_comparison.csv",
        dose_response=f"results/tables/dose_response_smd_{TIMEPOINT_LABEL}.csv",
    log:
        "logs/dose_tables.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        dose=config["dose"],
        pooling=config["pooling"],
    script:
        "../scripts/dose_tables.py"


rule cost_per_responder:
    """Cost of a course per responder by access route."""
    input:
        rates=f"results/tables/pooled_response_rate_{TIMEPOINT_LABEL}_by_arm_type.csv",
    output:
        table="results/tables/cost_per_responder.csv",
    log:
        "logs/cost_per_responder.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        costs=config["costs"],
    script:
        "../scripts/cost_per_responder.py"


rule reproductions:
    """Published meta-analyses reproduced on this project's data."""
    input:
        specs=get_reproduction_specs(),
        rules="config/claims.yaml",
        effects="data/processed/effect_sizes.csv",
        validated=VALIDATED_DIR,
    output:
        table="results/tables/reproductions.csv",
    log:
        "logs/reproductions.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        schema=WORKFLOW_DIR / "schemas" / "reproductions.schema.yaml",
        rules_schema=WORKFLOW_DIR / "schemas" / "claims.schema.yaml",
        windows=config["windows"],
    script:
        "../scripts/reproductions.py"


rule claims_audit:
    """Each quantitative claim of the source documents beside what the pipeline computed."""
    input:
        mapping="config/claims.yaml",
        schema=WORKFLOW_DIR / "schemas" / "claims.schema.yaml",
        validated=VALIDATED_DIR,
        effects="data/processed/effect_sizes.csv",
        pooled_route=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        pooled_enantiomer=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_enantiomer.csv",
        subgroup_tests=f"results/tables/subgroup_tests_smd_{TIMEPOINT_LABEL}.csv",
        relapse_by_study="results/tables/relapse_by_study.csv",
        adverse_event_rr="results/tables/adverse_event_rr.csv",
        bioavailability_by_route="results/tables/iv_equivalent_dose_by_route.csv",
        smd_by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        head_to_head=f"results/tables/enantiomer_head_to_head_{TIMEPOINT_LABEL}.csv",
        durability="results/tables/durability_evidence.csv",
    output:
        table="results/tables/claims_audit.csv",
    log:
        "logs/claims_audit.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        protocol=PROTOCOL,
        scale_preference=config["comparisons"]["scale_preference"],
    script:
        "../scripts/claims_audit.py"
