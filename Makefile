# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(PY) -m flask --app wsgi
PORT ?= 5000
HOST ?= 127.0.0.1

.PHONY: run test setup db install install-test install-dev lock browser lint bench clean translations translate-update

# Every machine installs the same versions: the lock files in requirements/ (pip-tools'
# pip-compile, `make lock`), then the project itself without resolving anything again.
LOCK := requirements

$(VENV)/.installed: pyproject.toml $(LOCK)/runtime.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)/runtime.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed $(LOCK)/test.txt
	$(PY) -m pip install --quiet -r $(LOCK)/test.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-test $(LOCK)/dev.txt
	$(PY) -m pip install --quiet -r $(LOCK)/dev.txt
	touch $@

## translations: compile each language's catalogue (registry/translations/*/messages.po) for the app
CATALOGUES := $(wildcard registry/translations/*/LC_MESSAGES/messages.po)
translations: $(CATALOGUES:.po=.mo)

registry/translations/%/LC_MESSAGES/messages.mo: registry/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(PY) -m babel.messages.frontend -q compile -i $< -o $@

## translate-update: extract the messages of the code and templates and merge them into each .po
translate-update: install
	$(FLASK) translate update

install: $(VENV)/.installed translations

install-test: $(VENV)/.installed-test

install-dev: $(VENV)/.installed-dev

## lock: resolve pyproject.toml's dependencies again, at the newest versions it allows, into
## requirements/runtime.txt, test.txt (runtime + test) and dev.txt (+ dev); commit the result
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(PY) -m piptools compile --quiet --upgrade --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host
lock: install-dev
	$(PIP_COMPILE) -o $(LOCK)/runtime.txt pyproject.toml
	$(PIP_COMPILE) --extra test -c $(LOCK)/runtime.txt -o $(LOCK)/test.txt pyproject.toml
	$(PIP_COMPILE) --extra test --extra dev -c $(LOCK)/test.txt -o $(LOCK)/dev.txt pyproject.toml

## db: create or upgrade the database, load reference and demo data (idempotent)
db: install translations
	$(FLASK) db upgrade
	$(FLASK) reference load
	$(FLASK) seed demo

## run: set everything up and serve http://$(HOST):$(PORT) with demo data
run: db
	@echo ""
	@echo "Log in at http://$(HOST):$(PORT)/login with a demo account (password: demo-password):"
	@echo "  admin@demo.invalid       administrator: everything"
	@echo "  donor@demo.invalid       donor editor of DEMO-NCA: its projects and funding sources"
	@echo "  government@demo.invalid  government of Nepal: pipeline projects for Nepal"
	@echo "  analyst@demo.invalid     analyst: read and export"
	@echo "API tokens: flask --app wsgi users token --email donor@demo.invalid"
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT) with a queue worker beside it (Ctrl-C stops both)"
	@# The worker runs in the background of this one shell and is stopped when the server ends,
	@# however it ends (Ctrl-C, an error): imports, undos and fact rebuilds are jobs it runs.
	@$(FLASK) jobs worker --workers 1 --worker-type thread & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	SESSION_COOKIE_SECURE=0 $(FLASK) run --host $(HOST) --port $(PORT)

## browser: Debian's Chromium for the browser tests (skipped when absent)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; }

## test: set everything up with the test dependencies and run the whole suite
test: install-test browser translations
	$(PY) -m pytest -q

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## bench: both benchmarks at a small size (BENCH_ARGS=--full for the sizes bench/RESULTS.md reports)
BENCH_ARGS ?=
bench: install-test
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance/*.sqlite3*
