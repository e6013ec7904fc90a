# The claims audit (PROTOCOL.md §22): each quantitative claim of the source documents beside
# what the pipeline computed, and published meta-analyses reproduced on this project's data.

CLAIMS = OUTPUTS.register(
    "claims",
    "Claims",
    tables={
        "reproductions": Table(
            "reproductions",
            "reproductions",
            "published meta-analyses beside our estimate for the same question, with the "
            "reason for any gap",
        ),
        "audit": Table(
            "claims_audit",
            "claims_audit",
            "every quantitative claim of the three source documents beside what the pipeline "
            "computed (estimate, CI, k, n), a verdict and why",
        ),
    },
    traced={"claims": Traced("audit", (), ("claim_id", "topic"))},
)


rule reproductions:
    """Published meta-analyses reproduced on this project's data."""
    input:
        specs=get_reproduction_specs(),
        rules="config/claims.yaml",
        effects="data/processed/effect_sizes.csv",
        validated=validated_tables("published_estimates"),
    output:
        table=CLAIMS.table("reproductions").path,
    log:
        "logs/reproductions.log",
    priority: CRITICAL_PATH
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
        validated=validated_tables(
            "outcomes",
            "arms",
            "studies",
            "relapse",
            "adverse_events",
            "published_estimates",
            "trial_traits",
            "claims",
        ),
        effects="data/processed/effect_sizes.csv",
        pooled_route=EFFICACY.table("pooled_by_route").path,
        pooled_enantiomer=EFFICACY.table("pooled_by_enantiomer").path,
        subgroup_tests=EFFICACY.table("subgroup_tests").path,
        relapse_by_study=RELAPSE.table("by_study").path,
        adverse_event_rr=SAFETY.table("adverse_events").path,
        bioavailability_by_route=DOSE.table("by_route").path,
        smd_by_study=EFFICACY.table("by_study").path,
        head_to_head=EFFICACY.table("head_to_head").path,
        durability=RELAPSE.table("durability").path,
    output:
        table=CLAIMS.table("audit").path,
    log:
        "logs/claims_audit.log",
    priority: CRITICAL_PATH
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        protocol=PROTOCOL,
        scale_preference=config["comparisons"]["scale_preference"],
    script:
        "../scripts/claims_audit.py"
