# The two set-up commands: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export JINBAO_HOME := $(CURDIR)
export AIRFLOW_CONFIG := $(CURDIR)/airflow.cfg
export AIRFLOW_HOME ?= $(CURDIR)/.jinbao/airflow
export GX_ANALYTICS_ENABLED := false

.PHONY: install demo test lint airflow-test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[test]'
	touch $@

demo: install  ## build the embedded estate if absent, run the whole pipeline, print the summary
	$(BIN)/jinbao demo
	@echo "jinbao is $(BIN)/jinbao: run '. $(BIN)/activate' to put it on your PATH"

lint: install
	$(BIN)/ruff check .

test: install lint  ## the whole test suite (what CI runs)
	$(BIN)/pytest -q --durations=15

bench: install  ## throughput, stage shares and peak memory on a simulated estate
	$(BIN)/python bench/pipeline_bench.py

clean:
	rm -rf .jinbao .pytest_cache
