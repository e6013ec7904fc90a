"""Bad-input classes of the config area (issue 24); the builders are those of cases.py.

None yet: the command-line interface reads no configuration file (its settings are options,
whose bad values are the CLI area's cases). The configuration's classes of bad input (a
non-core YAML tag, a duplicate key, a value of the wrong type, overlapping windows) are
refused by the workflow while it parses config/config.yaml, so their cases run the workflow:
tests/test_bad_config.py, with unit tests in tests/test_configuration.py.
"""

from __future__ import annotations

from bad_inputs.cases import Case

CASES: list[Case] = []
