# Safety (PROTOCOL.md §15): adverse events as risk ratios per event and drug, and whether the
# trials with more dissociation show larger effects. One job writes the tables, one draws the
# figures (ketamine_meta.analyses.safety, figures.safety_plots).

# The events drawn, each in a figure of its own.
SAFETY_EVENTS = {
    "blood_pressure": "blood pressure increased",
    "dissociation": "dissociation",
}

SAFETY = OUTPUTS.register(
    "safety",
    "Safety",
    tables={
        "adverse_events": Table(
            "adverse_event_rr",
            "adverse_event_rr",
            "risk ratios of blood pressure increased and dissociation per drug arm and pooled",
        ),
        "dissociation_vs_effect": Table(
            f"dissociation_vs_effect_{TIMEPOINT_LABEL}",
            "dissociation_vs_effect_table",
            "each primary comparison's g beside the share of its drug arm reporting dissociation",
        ),
        "dissociation_slope": Table(
            f"dissociation_slope_{TIMEPOINT_LABEL}",
            "dissociation_slope",
            "the meta-regression of g on that share, or why it is not estimable",
        ),
    },
    figures={
        **{
            f"events_{key}": Figure(
                f"adverse_event_rr_{key}",
                f"adverse_event_figure_{key}",
                f"the risk ratio of {event} per trial and pooled",
            )
            for key, event in SAFETY_EVENTS.items()
        },
        "dissociation_vs_effect": Figure(
            "dissociation_vs_effect",
            "dissociation_vs_effect",
            "the primary effect against the share reporting dissociation",
        ),
    },
    traced={
        "adverse_events": Traced(
            "adverse_events", (), ("event", "route", "enantiomer", "study_id")
        ),
    },
)


rule safety_tables:
    """Risk ratios of each adverse event, and the primary effect against dissociation."""
    input:
        validated=validated_tables("adverse_events", "arms"),
        by_study=EFFICACY.table("by_study").path,
    output:
        **SAFETY.table_paths(),
    log:
        "logs/safety_tables.log",
    priority: CRITICAL_PATH
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        events=list(SAFETY_EVENTS.values()),
    script:
        "../scripts/safety_tables.py"


rule safety_figures:
    """One figure per adverse event, and dissociation against effect."""
    input:
        **SAFETY.table_paths(),
        validation=after_validation,
    output:
        **figure_outputs_of(SAFETY),
    log:
        "logs/safety_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        events=SAFETY_EVENTS,
        level=config["pooling"]["level"],
        timepoint_h=config["pooling"]["timepoint_h"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/safety_figures.py"
