"""The hostile-input probe's case tables, one file per group of entry points.

See tests/hostile_cases.py for the list and tests/probe_inputs.py for the runner.
"""
