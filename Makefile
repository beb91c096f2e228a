# The two commands of the README: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint setup install clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Database migrations, demo data and the classifier model; each step is skipped when already done.
setup: install
	$(BIN)/appealbot init

run: setup
	$(BIN)/appealbot run

# The suite runs on SQLite, then again on PostgreSQL when APPEALBOT_TEST_DATABASE_URL names one.
test: install
	env -u APPEALBOT_TEST_DATABASE_URL $(BIN)/python -m pytest
	@if [ -n "$$APPEALBOT_TEST_DATABASE_URL" ]; then \
		echo "== again on $$APPEALBOT_TEST_DATABASE_URL"; \
		$(BIN)/python -m pytest; \
	fi

# Style, types and the import layers (pyproject.toml: [tool.ruff], [tool.mypy], [tool.importlinter]).
# CI runs it before the tests; `ruff format .` and `ruff check --fix .` repair most of what it finds.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var build *.egg-info
