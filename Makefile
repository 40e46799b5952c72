# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.py | sha256sum | cut -c1-12)
PYTEST_ARGS ?=
# GitHub's published contract, beside the checkout; the emulator needs it (an environment variable overrides it).
GITOPS_GITHUB_CONTRACT ?= $(CURDIR)/../shared/github-contract

.PHONY: install test unit run demo validate bench clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import gitops_pipelines, dagster, moto, python_terraform, github"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Every test: unit, integration (real terraform + moto + PostgreSQL), dagster, e2e; TEST_WORKERS processes (each
## with its own moto servers, PostgreSQL and sample repository), a test file per worker at a time.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest gitops_pipelines_tests -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## Only the tests that need no Terraform.
unit: $(STAMP)
	$(BIN)/python -m pytest gitops_pipelines_tests/unit $(PYTEST_ARGS)

## Dagster webserver + daemon on 127.0.0.1 against the sample infrastructure (moto as its cloud).
run: $(STAMP)
	$(BIN)/python -m gitops_pipelines_dev.run --github-contract "$(GITOPS_GITHUB_CONTRACT)"

## The demo's people acting on a running `make run`, from another terminal: make demo ARGS=pr | "approve 2" | "merge 2" | drift
demo: $(STAMP)
	$(BIN)/gitops-pipelines demo $(ARGS)

## `dagster definitions validate` on the sample gitops.yaml, with the variables it reads set to placeholders.
validate: $(STAMP)
	$(BIN)/python -m gitops_pipelines_dev.validate

## Benchmarks print ratios against raw Terraform (or core) measured in the same run; see benchmarks/README.md.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_dagster.py --executor all
	$(BIN)/python benchmarks/bench_units.py
	$(BIN)/python benchmarks/bench_pr_latency.py
	$(BIN)/python benchmarks/bench_sensor.py
	$(BIN)/python benchmarks/bench_policy.py

clean:
	rm -rf $(VENV) .gitops .dagster_home .run
