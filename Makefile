# GraphKD: the two commands a new user needs are `make demo` and `make test`.
PY := .venv/bin/python
.PHONY: setup test test-all demo lint clean-venv

setup:
	bash scripts/setup.sh

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m ""

demo: setup
	$(PY) scripts/demo.py

lint: setup
	$(PY) -m ruff check graphkd scripts tests benchmarks
	$(PY) -m ruff format --check graphkd scripts tests benchmarks

clean-venv:
	rm -rf .venv
