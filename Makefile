# Everything runs in a local virtual environment (.venv), made on first use
# with python3; nothing else needs to be installed beforehand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint matrix check clean chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $@

## demo: the example project: a real Celery worker runs real jobs, job_status records them
demo: $(VENV)/.installed
	$(BIN)/python example/manage.py run_demo

REDIS_URL ?= redis://127.0.0.1:6379/0
POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

## test: the whole suite on SQLite and the embedded broker, again on PostgreSQL
## (POSTGRES_URL), then the real-worker tests on Redis (REDIS_URL) with what only
## Redis can show. The tests start their own Celery workers and test database.
## The browser tests (dashboard, widget, admin) drive Debian's chromium through
## chromium-driver: installed here with apt-get when missing (as root).
test: $(VENV)/.installed chromium
	$(BIN)/python -m pytest -m "not redis and not postgres"
	JOB_STATUS_TEST_POSTGRES=$(POSTGRES_URL) $(BIN)/python -m pytest -m "not redis"
	JOB_STATUS_TEST_REDIS=$(REDIS_URL) $(BIN)/python -m pytest -m "(worker or redis) and not postgres and not browser"

chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "installing Debian's chromium and chromium-driver for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null || { \
			apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; }

## lint: ruff, mypy and the migrations check
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy job_status tests
	$(BIN)/python -m django makemigrations job_status --check --dry-run --settings=tests.settings --pythonpath=.

## matrix: tox on the newest Django with the newest Python, and on Celery 5.4
## (pyenv's other Pythons are made visible to tox; `tox` alone runs the whole matrix)
MATRIX ?= py313-django61,py311-django52-celery54
matrix: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet "tox>=4"
	PATH="$$PATH$$(for v in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[0-3]\.'); do \
		printf ':%s' "$$(pyenv root)/versions/$$v/bin"; done)" $(BIN)/tox run -e $(MATRIX)

## check: what CI runs
check: test lint demo matrix

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache example/var
