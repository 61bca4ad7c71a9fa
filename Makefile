# Every target bootstraps .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export SDL_VIDEODRIVER ?= dummy
export SDL_AUDIODRIVER ?= dummy

.PHONY: venv test test-fast watch bench lint typecheck clean

venv: $(STAMP)

# Where no NVIDIA GPU is present, install torch's CPU build (2.13.0) first, so that the
# project's `torch` range is already satisfied and pip never pulls the multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		echo "make venv: NVIDIA GPU found, installing torch with CUDA from the registry"; \
	else \
		echo "make venv: no GPU, installing torch==2.13.0 (CPU build) first"; \
		$(PY) -m pip install --quiet torch==2.13.0; \
	fi
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	@touch $(STAMP)

test: venv
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not slow"

# `sandbox watch`: the bundled agents duelling in a pygame window; where there is no display it writes a
# GIF and says where. The dummy SDL driver exported above is for the tests: when it comes from this
# Makefile (not from the caller's environment), `make watch` drops it so a real display is used.
WATCH_ARGS ?=
watch: venv
	$(if $(filter file,$(origin SDL_VIDEODRIVER)),env -u SDL_VIDEODRIVER,) $(VENV)/bin/sandbox watch $(WATCH_ARGS)

# MiniGrid (an outside reference in experiments/bench/envs.py) depends on pygame-ce, which would replace the
# project's pygame: install it without its dependencies.
bench: venv
	@$(PY) -c "import minigrid" 2>/dev/null || $(PY) -m pip install --quiet --no-deps minigrid
	$(PY) -m experiments.bench

lint: venv
	$(VENV)/bin/ruff check .

# mypy over envs, nets and agents, configured in pyproject.toml ([tool.mypy])
typecheck: venv
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
