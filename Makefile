# Everything a fresh machine needs: `make sweep` (the main job) and `make test` each set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export WANDB_MODE ?= offline

SWEEP_DIR := logs/sweeps/lenet_mnist
# `make sweep` trains the widths 0.1..8 of the lenet_mnist grid (x 3 seeds) to convergence, as two one-thread
# multiruns side by side (one per core: the small widths, and 8,4,2), then one pass over the whole subset (every job
# already finished: it only writes the sweep's plan and table) and the figures. `make sweep-full` runs all 9 widths
# (16 and 32 take most of the time). Both write the same sweep dir, so one resumes the other.
SWEEP_WIDTHS_A ?= 0.1,0.25,0.5,1
SWEEP_WIDTHS_B ?= 8,4,2
SWEEP_WIDTHS ?= 0.1,0.25,0.5,1,2,4,8

.PHONY: help install system-deps sweep sweep-full sweeps test test-fast lint benchmark benchmark-launchers clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev,hf]"
	touch $@

install: $(VENV)/.installed  ## make .venv and install the project with its dev tools

system-deps:  ## Debian packages for the SLURM-cluster and audit-page browser tests (root only; skipped otherwise)
	@if [ ! -f .ci/install_slurm.sh ]; then echo "no .ci/install_slurm.sh: nothing to install"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash .ci/install_slurm.sh; \
	else echo "not root or no apt-get: SLURM-cluster tests will be skipped"; fi
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the audit-page browser test will be skipped"; \
	else echo "not root or no apt-get: the audit-page browser test will be skipped"; fi

sweep: install  ## the main job: LeNet/MNIST widths 0.1..8 x 3 seeds trained to convergence, then the figures
	@test -n "$$DATA_DIR" || { echo "set DATA_DIR to the folder holding MNIST/raw (see README)"; exit 2; }
	@mkdir -p logs; echo "widths $(SWEEP_WIDTHS_A) in the background (log: logs/sweep_a.log), $(SWEEP_WIDTHS_B) here"
	OMP_NUM_THREADS=1 $(PY) train.py -m experiment=lenet_mnist model.width=$(SWEEP_WIDTHS_A) $(ARGS) > logs/sweep_a.log 2>&1 & a=$$!; \
	OMP_NUM_THREADS=1 $(PY) train.py -m experiment=lenet_mnist model.width=$(SWEEP_WIDTHS_B) $(ARGS); b=$$?; \
	wait $$a || { echo "widths $(SWEEP_WIDTHS_A) failed: see logs/sweep_a.log"; exit 1; }; exit $$b
	OMP_NUM_THREADS=1 $(PY) train.py -m experiment=lenet_mnist model.width=$(SWEEP_WIDTHS) $(ARGS)
	$(PY) -m src.analysis figure --premise $(SWEEP_DIR)

sweep-full: install  ## the full LeNet/MNIST experiment: all 9 widths x 3 seeds to convergence, figures, claims
	@test -n "$$DATA_DIR" || { echo "set DATA_DIR to the folder holding MNIST/raw (see README)"; exit 2; }
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) train.py -m experiment=lenet_mnist $(ARGS)
	$(PY) -m src.analysis figure --premise $(SWEEP_DIR)
	$(PY) -m src.analysis claims $(SWEEP_DIR)

sweeps: install  ## every paper experiment to convergence, then its analyses (hours on 2 cores: README "Experiments")
	@test -n "$$DATA_DIR" || { echo "set DATA_DIR to the data folder (see README)"; exit 2; }
	set -e; for exp in lenet_mnist autoencoder_cifar10_jpg transformer_omniglot; do \
	  OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) train.py -m experiment=$$exp $(ARGS); \
	  $(PY) -m src.analysis figure --premise logs/sweeps/$$exp; \
	  $(PY) -m src.analysis claims logs/sweeps/$$exp; \
	done
	set -e; for exp in arithmetic_4da arithmetic_2dm; do \
	  OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) train.py -m experiment=$$exp $(ARGS); \
	  $(PY) -m src.analysis arith-fig3 logs/sweeps/$$exp; \
	  $(PY) -m src.analysis arith-pred3 logs/sweeps/$$exp; \
	  $(PY) -m src.analysis claims logs/sweeps/$$exp; \
	done
	$(PY) -m src.analysis arith-fig4 logs/sweeps/arithmetic_4da --sizes 100,2000,6000
	$(PY) -m src.analysis arith-fig4 logs/sweeps/arithmetic_2dm --sizes 100,2000,3500

test: install system-deps  ## the whole test suite (fast and slow), as CI runs it
	$(PY) -m pytest -q $(ARGS)

test-fast: install  ## the fast tests only
	$(PY) -m pytest -q -m "not slow" $(ARGS)

lint: install  ## ruff
	$(VENV)/bin/ruff check src tests scripts train.py hydra_plugins
	$(VENV)/bin/ruff format --check src tests scripts train.py hydra_plugins

benchmark: install  ## training throughput against plain PyTorch and torchvision pipelines
	$(PY) scripts/benchmark_train.py $(ARGS)

benchmark-launchers: install system-deps  ## launcher overhead per job: basic, local (submitit), slurm (test cluster)
	$(PY) scripts/benchmark_launchers.py $(ARGS)

clean:  ## remove logs and caches (not the venv)
	rm -rf logs .pytest_cache .ruff_cache
