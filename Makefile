# Two commands from a fresh clone: `make demo` and `make test`.
# Each creates .venv when missing and installs the package with what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kernelkit-installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test lint bench docs-examples clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

# Fashion-MNIST comes from Debian; as root on Debian we install it, elsewhere the
# demo prints how to and falls back to scikit-learn's bundled digits.
demo: $(STAMP)
	@if [ ! -d $(FASHION_MNIST) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1) || \
		echo "could not install dataset-fashion-mnist; using the fallback data"; \
	fi
	$(BIN)/python -m kernelkit demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -x -q

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/bench_matvec.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
