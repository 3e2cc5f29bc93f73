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

# ---------------------------------------------------------------------------------------------
# The workbook: notebooks/*.ipynb run in order by papermill (helpers in mim3d/workbook.py).
# SMOKE=1: tiny data and model (data/smoke, runs/smoke, build/smoke/...), each notebook < 1 min.
# TRAIN=0 (the default for the demo): no training; use the shipped run folder PRETRAINED
# (model.keras, normalizer.json, run.yaml; its ConvLSTM baseline in PRETRAINED_convlstm).
# TRAIN=1: train 3D-MIM (~10 min on 2 free cores) and the ConvLSTM baseline. SMOKE=1 trains.
SMOKE ?= 0
TRAIN ?= $(if $(filter 1,$(SMOKE)),1,0)
PRETRAINED ?= mim3d/pretrained/demo
NB_TIMEOUT ?= 1800
ifeq ($(SMOKE),1)
WB_PRESET := smoke
WB_DATA := data/smoke
WB_RUN := runs/smoke
WB_FIGS := build/smoke/figures
WB_EVAL := build/smoke/evaluation
WB_OUT := build/smoke/notebooks
WB_SMOKE := True
else
WB_PRESET := demo
WB_DATA := data/demo
WB_RUN := runs/demo
WB_FIGS := figures
WB_EVAL := build/evaluation
WB_OUT := build/notebooks
WB_SMOKE := False
endif
ifeq ($(TRAIN),0)
WB_USED_RUN := $(PRETRAINED)
NB_EXTRA_02_training := -p TRAIN False -p PRETRAINED $(PRETRAINED)
else
WB_USED_RUN := $(WB_RUN)
NB_EXTRA_02_training := -p TRAIN True
endif
PAPERMILL := $(VENV)/bin/papermill --execution-timeout $(NB_TIMEOUT) -k python3
NB_PARAMS = -p SMOKE $(WB_SMOKE) -p DATA_DIR $(WB_DATA) -p RUN_DIR $(WB_USED_RUN) \
	-p FIG_DIR $(WB_FIGS) -p EVAL_DIR $(WB_EVAL)
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
EXECUTED := $(patsubst notebooks/%,$(WB_OUT)/%,$(NOTEBOOKS))
PACKAGE_SOURCES := $(shell find mim3d -name '*.py' -o -name '*.yaml' 2>/dev/null | sort)
DATA_READY := $(WB_DATA)/normalizer.json

.PHONY: test-browser

$(DATA_READY): | $(STAMP)
	$(PY) -c "from mim3d.workbook import ensure_data; ensure_data('$(WB_DATA)', '$(WB_PRESET)', jobs=2)"

data: $(DATA_READY) ## simulate the demo data set + fit its normaliser (SMOKE=1: the tiny one); skips what exists

# an executed notebook depends on its source, the package and the notebooks before it
$(WB_OUT)/%.ipynb: notebooks/%.ipynb $(PACKAGE_SOURCES) | $(STAMP)
	@mkdir -p $(WB_OUT) $(WB_FIGS)
	@echo "== $< -> $@"
	@$(PAPERMILL) $< $(WB_OUT)/$*.running.ipynb $(NB_PARAMS) $(NB_EXTRA_$*) || { \
		mv -f $(WB_OUT)/$*.running.ipynb $(WB_OUT)/$*.failed.ipynb 2>/dev/null; \
		echo "make: $< FAILED; the partly executed notebook is $(WB_OUT)/$*.failed.ipynb" >&2; \
		exit 1; }
	@mv -f $(WB_OUT)/$*.running.ipynb $@

$(WB_OUT)/01_data.ipynb: $(DATA_READY)
$(WB_OUT)/02_training.ipynb: $(WB_OUT)/01_data.ipynb
$(WB_OUT)/03_evaluation.ipynb: $(WB_OUT)/02_training.ipynb
$(filter-out $(addprefix $(WB_OUT)/,01_data.ipynb 02_training.ipynb 03_evaluation.ipynb),$(EXECUTED)): $(WB_OUT)/03_evaluation.ipynb

figures: $(EXECUTED) ## data, (pretrained) model, evaluation, every figure notebook (SMOKE=1, TRAIN=1)
	@echo "executed notebooks in $(WB_OUT)/, figures in $(WB_FIGS)/"

lab: $(STAMP) ## JupyterLab on 127.0.0.1 with the project's kernel (python3 of .venv)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

test-browser: $(STAMP) ## real-browser test: JupyterLab + headless chromium run 04_explore, move the slider
	tests/browser/run.sh

clean-figures: ## delete generated figures and executed notebooks (never data/ or runs/)
	rm -rf build/notebooks build/evaluation build/smoke
	find figures -maxdepth 1 -type f \( -name '*.png' -o -name '*.pdf' -o -name '*.json' \
		-o -name '*.gif' -o -name '*.mp4' \) -delete

bench: $(STAMP) ## speed, memory, roofline, data, simulator benchmarks -> bench/results/*.json (~50 min; FULL=1 adds D at T=20: ~70 min in all)
	$(PY) bench/bench_train.py $(if $(filter 1,$(FULL)),--full-d)
	$(PY) bench/bench_simulate.py

.PHONY: container-test
container-test: ## build the container image FROM a local Debian base and test it inside (root, buildah; minutes)
	container/test.sh
