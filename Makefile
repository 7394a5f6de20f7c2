# The platform's commands. `make up` and `make test` work on a bare machine: both run
# `setup` first, which installs what is missing and is a no-op when nothing changed.
.PHONY: up test demo down setup lint compose-up compose-down

PYTHON := .venv/bin/python

up: setup
	$(PYTHON) -m devstack up

test: setup
	.venv/bin/pytest

demo: setup
	$(PYTHON) -m devstack up --offline

down:
	@if [ -x $(PYTHON) ]; then $(PYTHON) -m devstack down; fi

setup:
	@bash devstack/setup.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	@# Each test folder has its own conftest.py, which mypy cannot check in one run.
	for d in tests/api_server tests/exchange_sim tests/data_collector tests/order_system tests/outbox_relay; do \
		.venv/bin/mypy $$d || exit 1; done

compose-up:
	docker compose up -d --build

compose-down:
	docker compose down
