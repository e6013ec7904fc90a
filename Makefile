# ketamine-meta: `make` runs the whole pipeline, `make test` runs every test.
# Both create .venv from requirements.lock on first use and whenever the lock changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= all

# Deterministic outputs: no hash randomisation, no locale-dependent formatting.
export PYTHONHASHSEED := 0
export LC_ALL := C.UTF-8
export MPLBACKEND := Agg

# A checkout without data/processed has no record of how results/ were made: rebuild all
# of it (committed results must be reproduced, not trusted). Later runs are incremental.
FORCE_IF_FRESH := $(if $(wildcard data/processed/validated),,--forceall)

.DEFAULT_GOAL := all
.PHONY: all pipeline test test-fast test-workflow screenshots lint lock venv clean release data
.PHONY: scale benchmark-pipeline

all: pipeline results/report.html

$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# tools/run_pipeline.py clears a stale lock, reruns what an interrupted run left incomplete and
# rebuilds any result edited by hand (results/manifest.tsv) before Snakemake runs.
# The README's headline block and table of outputs are then rewritten from the results and the
# registry of outputs (never typed by hand), when the run changed either (a second make reads
# their new dates).
# The report is written by the same Snakemake run (--report-after-run), not by a second one.
#
# Nothing changed, nothing to do: PIPELINE_STAMP is touched when a run completes, and make
# starts Snakemake only when something the pipeline reads or writes is newer than it (a file,
# or a folder whose files were added or removed). A run that failed or was killed leaves the
# stamp as it was, so the next make runs Snakemake, which finishes the work.
README_STAMP := .snakemake/readme.stamp
PIPELINE_STAMP := .snakemake/pipeline.stamp
PIPELINE_WATCHED := Snakefile config data/raw data/processed notebooks src/ketamine_meta \
	workflow results tools/run_pipeline.py
PIPELINE_INPUTS := $(STAMP) $(shell find $(PIPELINE_WATCHED) -name __pycache__ -prune \
	-o -print 2>/dev/null)
pipeline: $(PIPELINE_STAMP)

# The report's stylesheet (workflow/report/report.css) lays it out for a laptop's width.
REPORT_ARGS := --report-stylesheet workflow/report/report.css

$(PIPELINE_STAMP): $(PIPELINE_INPUTS)
	$(BIN)/python tools/run_pipeline.py --cores $(CORES) $(FORCE_IF_FRESH) \
		--report results/report.html --report-after-run $(REPORT_ARGS)
	$(MAKE) --no-print-directory $(README_STAMP)
	mkdir -p $(@D) && touch $@

$(README_STAMP): results/manifest.tsv results/outputs.json results/report/headline.md
	$(BIN)/python tools/update_readme.py
	mkdir -p $(@D) && touch $@

# The report embeds every figure and table; rebuilt only when a result is newer.
results/report.html: $(STAMP) $(wildcard results/tables/*.csv results/figures/*.svg workflow/report/*.rst workflow/report/*.css)
	$(BIN)/snakemake --cores 1 --report $@ $(REPORT_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest

# Everything but the tests that run the whole workflow in a temporary copy (marker pipeline).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not pipeline"

# After editing data/raw (CONTRIBUTING.md): validate it, naming anything a trial still lacks,
# and rewrite the package README's generated coverage block from the tables. The pipeline
# never writes data/raw; this target, run by the contributor, is the one step that does.
data: $(STAMP)
	$(BIN)/ketamine-meta validate data/raw
	$(BIN)/python tools/update_data_readme.py

# The whole workflow on the small package of .test/ (the Snakemake catalog's test layout), with
# the repository's configuration and with the second one of .test/config_28d (28 days, DL);
# their results stay in .test/results and .test/config_28d/results.
test-workflow: $(STAMP)
	$(BIN)/snakemake --directory .test --cores $(CORES)
	$(BIN)/snakemake --directory .test/config_28d --cores $(CORES)

# The report as a reader sees it, in headless Chromium (apt-get install chromium
# chromium-driver), written to docs/screenshots.
screenshots: results/report.html
	$(BIN)/python tools/screenshot_report.py results/report.html docs/screenshots

# The whole pipeline on a synthetic evidence base of TRIALS simulated trials, in
# benchmarks/scratch/ (removed afterwards): wall time, peak memory, comparisons and
# specifications go to benchmarks/results/scale.json.
TRIALS ?= 500
scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py --trials $(TRIALS)

# Where the everyday pipeline's time goes (start-up vs work per rule) and the three `make`
# timings (fresh, nothing to do, one-number edit): benchmarks/results/pipeline.json.
benchmark-pipeline: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow/scripts tools notebooks
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

# Re-resolve the dependency set (needs the package registry) and rewrite the pins.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[workflow,test]'
	.lock-venv/bin/python tools/write_lock.py .lock-venv requirements.lock environment.yml \
		workflow/envs/ketamine_meta.yaml
	rm -rf .lock-venv

# The released data archive (dist/ketamine-meta-data-X.Y.Z.tar.gz), its SHA-256, and the record
# data/releases/ketamine-meta-data-X.Y.Z.json (version, commit, headline results): commit it.
release: $(STAMP)
	$(BIN)/python tools/release_data.py

clean:
	rm -rf data/processed results/report.html .snakemake
