# LabelGuard developer commands. `make test` and `make demo` bootstrap a fresh Debian 12 machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
QGIS_PROCESS ?= /usr/bin/qgis_process.bin
VERSION := $(shell sed -n 's/^version=//p' metadata.txt)
PROFILE_PLUGINS ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default/python/plugins
export PROJ_DATA ?= /usr/share/proj
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: bootstrap test test-core test-qgis test-matrix demo bench bench-dask install uninstall package lint clean

bootstrap:
	./tools/bootstrap.sh

test: bootstrap
	$(PY) -m pytest -p no:qgis tests/core tests/gdalio tests/cli
	$(PY) -m pytest -o qgis_qui_enabled=false tests/processing tests/ui

# `make test` here and in Debian 13 and sid chroots (QGIS 3.22, 3.40, 3.44); root; one line per
# release. The chroots are cached in LABELGUARD_CHROOTS (default /var/cache/labelguard/chroots).
test-matrix:
	./tools/matrix.sh

test-core: bootstrap
	$(PY) -m pytest -p no:qgis tests/core tests/gdalio tests/cli

demo: bootstrap
	$(PY) tools/demo.py --out out/demo --qgis-process $(QGIS_PROCESS)

bench: bootstrap
	$(PY) benchmarks/bench_hashing.py

bench-dask: bootstrap
	$(PY) benchmarks/bench_dask.py

install:
	mkdir -p "$(PROFILE_PLUGINS)"
	ln -sfn "$(CURDIR)" "$(PROFILE_PLUGINS)/labelguard"
	@echo "Linked $(CURDIR) as $(PROFILE_PLUGINS)/labelguard; enable LabelGuard in Plugins > Manage and Install Plugins."

uninstall:
	rm -f "$(PROFILE_PLUGINS)/labelguard"

package:
	@test -z "$$(git status --porcelain -- . ':!dist' ':!out')" || echo "warning: uncommitted changes are not in the zip (git archive packs HEAD)"
	mkdir -p dist
	git archive --format=zip --prefix=labelguard/ -o dist/labelguard-$(VERSION).zip HEAD
	@echo "dist/labelguard-$(VERSION).zip"

lint:
	$(PY) -m ruff format --check . && $(PY) -m ruff check .

clean:
	rm -rf out dist .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
