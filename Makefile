# Two commands on a fresh clone: `make run` and `make test`. Needs Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_PASSWORD ?= crier-demo

.PHONY: run test install demo lint format browser-test reliability-test clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: install, migrate, create the demo, then serve web + worker + beat on 127.0.0.1:8000.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --password '$(DEMO_PASSWORD)'
	@echo
	@echo "  Crier is starting on http://127.0.0.1:8000/  (log in as demo / $(DEMO_PASSWORD))"
	@echo "  Stop it with Ctrl-C."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" DEMO_PASSWORD='$(DEMO_PASSWORD)' $(BIN)/honcho start

## make test: the whole suite on SQLite, the network blocked (DATABASE_URL switches the database),
## on two processes (pytest-xdist; each has its own test database).
test: install
	$(BIN)/python -m pytest -n 2

## make browser-test: Playwright driving chromium. One process: on two (-n 2, 3:30 instead of
## 5:45) the load showed races in tests that read a part HTMX loads after the page.
browser-test: install
	$(BIN)/python -m pytest tests/browser -p no:randomly

## make reliability-test: real workers and beat on PostgreSQL + Redis (run by .ci/run); three
## runners, whole files each, in the order tests/reliability/conftest.py gives them.
reliability-test: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15} \
	$(BIN)/python -m pytest tests/reliability -p no:randomly -v -rP -n 3 --dist loadfile --no-loadscope-reorder

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf var/ $(VENV)
