# The two commands a newcomer runs: `make lab` and `make test`.
# Both create .venv when it is missing, install torch==2.13.0 FIRST (a CPU build here; an
# unpinned torch would pull several GB of CUDA wheels) and then the kit with its extras.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test test-browser lint bench setup clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[notebooks,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (loretta_explore)"
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks

browser:
	@bash .ci/ensure-browser

test: setup browser
	$(BIN)/python -m pytest

test-browser: setup browser
	$(BIN)/python -m pytest -m browser

lint: setup
	$(BIN)/ruff check loretta_explore tests benchmarks

bench: setup
	cd benchmarks && ../$(BIN)/python run_all.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info test-artifacts
