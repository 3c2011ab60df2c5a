# CrowdPass — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: install frontend ## start API, worker, payments stub and UI on :8000 (embedded servers unless DATABASE_URL/REDIS_URL)
	$(PY) manage.py run

# The fast tiers run on TEST_PROCESSES processes (each with a database and a Redis database
# of its own: tests/servers.py); the tiers that start whole systems or race hundreds of
# requests run after them, one test at a time.
TEST_PROCESSES ?= 4
PARALLEL_TIERS := tests/unit tests/integration tests/security

test: install frontend ## run the whole test suite (unit, integration, security in parallel; then the rest)
	$(PY) -m pytest -q -n $(TEST_PROCESSES) --dist worksteal $(PARALLEL_TIERS)
	$(PY) -m pytest -q tests $(addprefix --ignore=,$(PARALLEL_TIERS))

CHAOS_SCALE ?= 10

chaos: install ## the chaos suite (tests/chaos/) at the issue's sizes (CHAOS_SCALE=10; `make test` runs it at 1)
	CHAOS_SCALE=$(CHAOS_SCALE) $(PY) -m pytest -q -s -p no:cacheprovider tests/chaos

test-fast: install ## unit and integration tests only
	$(PY) -m pytest -q -n $(TEST_PROCESSES) --dist worksteal tests/unit tests/integration

install: $(STAMP) ## create .venv and install the pinned dependencies

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

constraints: install ## pin every installed package (direct and transitive) into constraints.txt
	{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --exclude-editable | sort -f; } > constraints.txt.new && mv constraints.txt.new constraints.txt

frontend: ## build the web app into frontend/dist (needs npm)
	@if [ -f frontend/package.json ]; then \
		if command -v npm >/dev/null; then \
			cd frontend && ( [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund ) && npm run build; \
		else echo "npm not found: serving the API without the web app"; fi; \
	fi

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: install ## format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: install ## apply pending migrations
	$(PY) manage.py migrate

reset-db: install ## drop everything, migrate and seed
	$(PY) manage.py reset-db

.PHONY: help run test chaos test-fast install constraints frontend lint fmt migrate reset-db

# Benchmarks (bench/, docs/benchmarks.md): each run writes bench/results/<time>-<scenario>-<scale>.json.
# SCALE=1 is the issue's size; SCALE=0.1 or 0.01 for quick runs. BENCH_ARGS passes more
# options (python -m bench.run -h).
SCALE ?= 1
BENCH_ARGS ?=

bench-challenge: install ## (a) challenge contract: read storm, purchase storm on the 90%-sold event (SCALE=1)
	$(PY) -m bench.run challenge --scale $(SCALE) $(BENCH_ARGS)

bench-flash: install ## (b) flash sale: 1,000,000 order attempts for 50,000 tickets (SCALE=1)
	$(PY) -m bench.run flash --scale $(SCALE) $(BENCH_ARGS)

bench-waitingroom: install ## (c) waiting room: 100,000 visitors join at the opening (SCALE=1)
	$(PY) -m bench.run waitingroom --scale $(SCALE) $(BENCH_ARGS)

bench-holds: install ## (d) seat-map read storms, a hold storm, 2,000 customers for 208 seats (SCALE=1)
	$(PY) -m bench.run holds --scale $(SCALE) $(BENCH_ARGS)

.PHONY: bench-challenge bench-flash bench-waitingroom bench-holds

# docker-compose.yml run for real (deploy/compose.sh): a Docker engine (DOCKER_HOST) and
# Debian's docker-compose; images built FROM the project's Debian base (deploy/base-image.sh).
compose-up: install ## build the images, start docker-compose.yml (:9999, :5000, :3000) and wait for health
	deploy/compose.sh up

compose-down: ## stop docker-compose.yml (KEEP_VOLUMES=0 deletes its data too)
	deploy/compose.sh down

compose-smoke: install ## fresh compose: up, the challenge contract suite and a load test through :9999, down
	deploy/compose.sh smoke

compose-failover: install ## fresh compose with Redis replica + Sentinel: a sale whose Redis primary is killed midway, down
	deploy/compose.sh failover

compose-load: install ## the challenge load scenario against the running compose (SCALE=0.02), docker stats sampled
	deploy/compose.sh load

.PHONY: compose-up compose-down compose-smoke compose-failover compose-load
