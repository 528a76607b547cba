# Two commands on a fresh machine:  `make demo`  and  `make test`  (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
TARGET ?= results/center_bias results/lsts_flow
# test processes (pytest-xdist); each test file stays in one process (--dist loadfile), so its
# module fixtures are built once; tests/conftest.py orders the longest files first, and
# --no-loadscope-reorder keeps that order (xdist otherwise sorts files by their test count). One more
# than 2 cores: the SLURM test mostly waits for status polls, and a third process fills that time
# (9:52 -> 9:05 on 2 cores)
TEST_WORKERS ?= 3

.PHONY: install demo test clean-demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) $(TARGET)
	@echo "results/lsts_flow/metrics.json:" && cat results/lsts_flow/metrics.json

test: install
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

clean-demo:
	rm -rf data/demo store/demo results logs/demo .snakemake .salprep/annotations/demo
