# GraphKD: the two commands a new user needs are `make demo` and `make test`.
PY := .venv/bin/python
.PHONY: setup test test-d2main test-all demo lint mutation clean-venv

setup:
	bash scripts/setup.sh

test: setup
	$(PY) -m pytest -q

# The default suite against detectron2 main built from a source snapshot (CI's second leg); ARCHIVE defaults
# to ../shared/vendor/detectron2-main.tar.gz and the leg is skipped, saying so, when it is absent.
ARCHIVE ?=
test-d2main: setup
	bash scripts/test_d2main.sh $(ARCHIVE)

test-all: setup
	$(PY) -m pytest -q -m ""

demo: setup
	$(PY) scripts/demo.py

lint: setup
	$(PY) -m ruff check graphkd scripts tests benchmarks
	$(PY) -m ruff format --check graphkd scripts tests benchmarks

# Mutation testing (not in CI; ~1 h on 2 cores; report in docs/mutation.md): mutmut over graphkd/graph, graphkd/distill and the node
# selection (pyproject.toml [tool.mutmut]); `.venv/bin/mutmut results` lists the survivors afterwards.
mutation: setup
	$(PY) -m pip install --disable-pip-version-check -q "mutmut==3.8.1"
	.venv/bin/mutmut run --max-children 2
	.venv/bin/mutmut export-cicd-stats 2>/dev/null || true
	.venv/bin/mutmut results

clean-venv:
	rm -rf .venv
