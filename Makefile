# The two commands a newcomer runs: `make lab` and `make test`.
# Both create .venv when it is missing, install torch==2.13.0 FIRST (a CPU build here; an
# unpinned torch would pull several GB of CUDA wheels) and then the kit with its extras.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Jupyter refuses to start as root (containers, many cloud notebooks) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# more options for `jupyter lab`, e.g. make lab LAB_ARGS="--no-browser --port=8890"
LAB_ARGS ?=

.PHONY: lab test test-browser test-colab lint bench notebooks setup clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[notebooks,lab,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (loretta_explore)"
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

browser:
	@bash .ci/ensure-browser

test: setup browser
	$(BIN)/python -m pytest

test-browser: setup browser
	$(BIN)/python -m pytest -m browser

# the simulated Colab alone (a fresh virtualenv; a few minutes, the first time longer)
test-colab: setup
	$(BIN)/python -m pytest tests/test_colab.py -m slow

# ruff's rules and its formatter (line length 100, pyproject.toml), the lessons' code cells, and
# every notebook's setup cell (tests/test_lint.py runs the same in `make test`)
LINT_PATHS := loretta_explore tests benchmarks tools examples data
lint: setup
	$(BIN)/ruff check $(LINT_PATHS) notebooks instructor
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/python tools/sync_notebooks.py --check

# every notebook's setup cell and Colab link, and the README's, from pyproject.toml
# (standard library only: no .venv needed)
notebooks:
	$(PYTHON) tools/sync_notebooks.py

bench: setup
	cd benchmarks && ../$(BIN)/python run_all.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info test-artifacts
