# The project's commands. The stack lives in .local/ (see devstack/stack.sh).
SHELL := /bin/bash
STACK := devstack/stack.sh
# The virtualenv of CKAN_VERSION (default 2.11), e.g. `make test CKAN_VERSION=2.12`: stack.sh decides.
VENV := $(shell CKAN_VERSION=$(CKAN_VERSION) $(STACK) venv)
PYTHON := $(VENV)/bin/python

.PHONY: demo test lint up down clean install i18n bench bench-occult bench-view bench-page bench-hostile bench-harvest bench-collectivite bench-fuzz

## demo: install and start the whole stack, then run the extension on sample documents
demo:
	@$(STACK) up
	@$(PYTHON) devstack/demo.py

## test: lint and type checks first (fast fail), then build/start what the tests need, run the whole suite
## (then the browser tests, in Debian's Chromium, against the portal that `up` leaves running)
test: lint
	@$(STACK) services
	@set -o pipefail; eval "$$($(STACK) env)"; \
	$(PYTHON) -m pytest tests --ignore=tests/ckan -q -p no:cacheprovider && \
	$(PYTHON) -m pytest tests/ckan -q -p no:cacheprovider -p ckan -p ckan_fixtures --ckan-ini=test.ini
# The browser tests drive the local portal, whose database belongs to CKAN 2.11: another version
# runs the two pytest sessions only.
ifeq ($(filter-out 2.11,$(CKAN_VERSION)),)
	@$(STACK) reload
	@$(STACK) chromium
	@npm run --silent test:browser || { $(STACK) logs; exit 1; }
endif

## lint: ruff (lint rules and import order) on the package, the tests and the benches, and mypy (types) on
## the package, configured in pyproject.toml; `$(VENV)/bin/ruff check --fix ckanext/budgetod tests bench`
## applies ruff's mechanical fixes
lint: install
	@$(VENV)/bin/ruff check ckanext/budgetod tests bench
	@$(VENV)/bin/mypy

up:
	@$(STACK) up

down:
	@$(STACK) down

clean:
	@$(STACK) clean

install:
	@$(STACK) install

## i18n: refresh the translation template and catalogues from the sources
i18n:
	$(VENV)/bin/pybabel extract -F babel.cfg -o i18n/ckanext-budgetod.pot --no-wrap --sort-output --project ckanext-budgetod .
	for lang in fr en; do \
	  if [ -f i18n/$$lang/LC_MESSAGES/ckanext-budgetod.po ]; then \
	    $(VENV)/bin/pybabel update -i i18n/ckanext-budgetod.pot -d i18n -D ckanext-budgetod -l $$lang --no-wrap; \
	  else \
	    $(VENV)/bin/pybabel init -i i18n/ckanext-budgetod.pot -d i18n -D ckanext-budgetod -l $$lang --no-wrap; \
	  fi; \
	done

## bench: whole-process speed and memory of the converter against yatotem2scdl 0.1.5
bench: install
	@[ -x .local/bench-venv/bin/yatotem2scdl ] || { python3 -m venv .local/bench-venv && .local/bench-venv/bin/pip install -q yatotem2scdl==0.1.5; }
	@$(PYTHON) bench/convert.py

## bench-occult: whole-process speed and memory of the occultation against the conversion (30 MB documents)
bench-occult: install
	@$(PYTHON) bench/occult.py $(BENCH_ARGS)

## bench-view: seconds until the budget visualisation of Montreuil's CA 2018 is fully drawn (local portal)
bench-view:
	@$(STACK) up
	@$(STACK) chromium
	@npm run --silent bench:view

## bench-page: seconds until the page of a budget with 5 years (/budgets/<siret>) is fully drawn (local portal)
bench-page:
	@$(STACK) up
	@$(STACK) chromium
	@npm run --silent bench:page

## bench-hostile: 200+ hostile cases through a real harvest (resets the test database)
bench-hostile:
	@$(STACK) services
	@eval "$$($(STACK) env)"; $(PYTHON) bench/hostile.py

## bench-harvest: 1,000 generated documents harvested through the Redis queues and consumers, then
## again unchanged (BENCH_ARGS="--collectivites 20" for a quick run)
bench-harvest:
	@$(STACK) services
	@eval "$$($(STACK) env)"; $(PYTHON) bench/harvest.py $(BENCH_ARGS)

## bench-collectivite: time and peak memory of the summaries across the years of the 1,000 documents'
## region (bench-harvest's corpus, converted once), every budget with its peers, cold and warm cache
bench-collectivite: install
	@$(PYTHON) bench/collectivite_summary.py $(BENCH_ARGS)

## bench-fuzz: fuzz the TOTEM reader and the conversion (bench only, never CI; FUZZ_ARGS="--seconds 600 --seed 1")
bench-fuzz: install
	@$(PYTHON) -c 'import hypothesis' 2>/dev/null || $(VENV)/bin/pip install -q -e '.[bench]'
	@$(PYTHON) bench/fuzz_reader.py $(FUZZ_ARGS)
