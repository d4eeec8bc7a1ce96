# otel-replay: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
EXAMPLE := examples/codemachine
LOKI_URL ?= http://localhost:3100
OTLP_ENDPOINT ?= http://localhost:4318
METRICS_ENDPOINT ?= http://localhost:9090/api/v1/otlp/v1/metrics

.PHONY: install test test-real lint demo replay up down bench examples clean mutants

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest -q

# The real-backend suite (tests/real/, not part of `make test`): starts its own Tempo and
# Loki from docker/tempo.yaml and docker/loki.yaml on free loopback ports. It uses
# TEMPO_BIN and LOKI_BIN when set (your own binaries); else it unpacks them from
# $(BACKENDS_UNPACK) when that exists; else its tests are skipped, saying why.
BACKENDS_UNPACK ?= ../shared/backends/unpack

test-real: install
	@if [ -z "$$TEMPO_BIN" ] && [ -z "$$LOKI_BIN" ] && [ -e "$(BACKENDS_UNPACK)" ]; then \
		paths="$$(bash "$(BACKENDS_UNPACK)")" || exit 1; eval "$$paths"; export TEMPO_BIN LOKI_BIN; \
	fi; \
	$(PY) -m pytest -q tests/real

lint: install
	$(BIN)/ruff check otel_replay tests examples bench
	$(BIN)/ruff format --check otel_replay tests examples bench

demo: install
	$(BIN)/otel-replay replay $(EXAMPLE) --output out --overwrite --shift-to-now

# The local stack (docker/): Tempo, Loki, Prometheus and Grafana on 127.0.0.1. `up` returns
# once every backend answers its readiness check (or fails after 3 minutes, naming it).
COMPOSE ?= docker compose -f docker/docker-compose.yml

up:
	$(COMPOSE) up -d --wait --wait-timeout 180

down:
	$(COMPOSE) down

# Sends the committed example to the local stack (started first if it is not running).
# The example is dated and Loki refuses entries older than 7 days: --shift-to-now moves
# every record by one offset so that the newest lands now.
replay: install up
	$(BIN)/otel-replay replay $(EXAMPLE) --shift-to-now --otlp-endpoint $(OTLP_ENDPOINT) \
		--loki-url $(LOKI_URL) --otlp-metrics-endpoint $(METRICS_ENDPOINT)

examples: install
	$(PY) examples/make_example.py $(EXAMPLE)

# Mutation testing (mutmut): slow, not in CI; docs/testing.md has the figures and says when
# to refresh them. By default the modules the figures cover (hours on 2 cores);
# MUTANTS picks others, e.g. make mutants MUTANTS="'otel_replay.sinks.loki.*'"
MUTANTS ?= 'otel_replay.sinks.batching.*' 'otel_replay.sinks.delivery.*' 'otel_replay.sinks.inflight.*' \
	'otel_replay.sinks.loki_answers.*' 'otel_replay.sources.common.*' 'otel_replay.sources.jsondoc.*' \
	'otel_replay.sources.outline.*' 'otel_replay.sources.otlp_values.*' 'otel_replay.sources.rereading.*' \
	'otel_replay.stages.*'
mutants: install
	$(PY) -m pip install --quiet -e '.[dev,mutation]'
	rm -rf mutants
	$(BIN)/mutmut run $(MUTANTS)
	$(PY) tests/mutation_report.py

# Not a test: generates large inputs once into bench/data/, prints the ratios against the SDK floor and the
# original import script side by side (BENCH_ORIGINAL=path/to/import-telemetry.ts runs the latter with bun),
# then throughput and peak memory per run. docs/performance.md says what each figure is.
bench: install
	$(PY) bench/ratios.py
	$(PY) bench/large_doc.py
	$(PY) bench/run.py
	$(PY) bench/scrub_cost.py
	$(PY) bench/inspect_time.py

clean:
	rm -rf $(VENV) out mutants .pytest_cache .ruff_cache *.egg-info
