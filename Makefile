# healthmon: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv

.PHONY: test test-integration demo venv lint clean bench

venv:
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/venv.sh

test:
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/test.sh

# a real Prefect server, `prefect deploy --all` and two process workers (docs/operations.md)
test-integration: venv
	$(VENV)/bin/pytest -m integration tests/integration

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

demo: venv
	@scripts/demo.sh

# the benchmarks' quick mode, a few minutes; installs the blackbox_exporter peer when root
bench: venv
	@VENV=$(VENV) scripts/bench.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache build *.egg-info
