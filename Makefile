# Two entry points: `make demo` and `make test`. Each sets up .venv idempotently first.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.modecollapse-installed

.PHONY: demo test lint setup

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	# test-only oracle; --no-deps because it requires torchvision, which breaks beside the CPU wheel
	$(PY) -m pip install -q --no-deps pytorch-fid==0.3.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/modecollapse demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks results examples

test: lint
	$(PY) -m pytest -q -n auto --durations=15
