# mim3d: type `make` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export VTK_DEFAULT_OPENGL_WINDOW ?= vtkEGLRenderWindow
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: help venv test lint data figures bench lab clean-figures

help: ## print this list of targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install mim3d with all extras (from pyproject.toml)

test: $(STAMP) ## run the test suite (CPU, a few minutes)
	$(PY) -m pytest -q

lint: $(STAMP) ## ruff over the package, tests and notebooks
	$(VENV)/bin/ruff check mim3d tests notebooks bench
