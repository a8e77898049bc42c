# Keqing: `make run` serves the demo salon; `make test` runs every test. See README.md.
VENV      ?= .venv
PYTHON    ?= python3
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip
FLASK     := $(VENV)/bin/flask --app app
HOST      ?= 127.0.0.1
PORT      ?= 5000
# What the tests need from Debian: a browser, Redis, a CJK font for PDFs, pdftoppm, and
# libharfbuzz-subset0 (WeasyPrint subsets CJK fonts up to 4x faster with it); wrk drives the
# load figures of `make bench`, and GNU time gives their memory.
SYSTEM_PACKAGES := chromium redis-server fonts-wqy-microhei poppler-utils libharfbuzz-subset0 wrk \
                   time

.PHONY: run serve setup test test-sqlite test-postgresql system-deps translations migrate demo \
        bench clean security

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.deps: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt requirements.txt $(VENV)/.deps
	$(PIP) install -q -r requirements-dev.txt
	touch $@

translations: $(VENV)/.deps
	$(VENV)/bin/pybabel -q compile -d kq/translations

migrate: $(VENV)/.deps
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) kq demo

setup: translations demo

run: setup
	@echo
	@echo "  Keqing is at http://$(HOST):$(PORT)/"
	@echo "  Demo sign-ins (password demo1234):"
	@echo "    owner, manager, beautician1 … beautician6   main store"
	@echo "    manager2, beautician7                       second store"
	@echo
	$(FLASK) run --host $(HOST) --port $(PORT)

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing (install them as root; tests that need them are skipped)"; \
	  fi; \
	fi

test: system-deps $(VENV)/.dev-deps translations
	$(MAKE) --no-print-directory security
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$KQ_TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgresql; \
	 else echo "KQ_TEST_DATABASE_URL not set: PostgreSQL pass skipped"; fi

test-sqlite:
	@echo "== tests on SQLite =="
	KQ_TEST_DB=sqlite $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-postgresql:
	@echo "== tests on PostgreSQL =="
	KQ_TEST_DB=postgresql $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# bandit over kq/ must be clean (each accepted finding carries `# nosec <id> # reason` on its
# line); pip-audit checks the pinned requirements when its vulnerability data can be reached and
# says it skipped when it cannot (tools/audit.py).
security: $(VENV)/.dev-deps
	@echo "== security checks =="
	@# bandit warns of a nosec it matched on another line of the same statement: not news.
	@$(VENV)/bin/bandit -q -r kq 2>$(VENV)/.bandit-log; status=$$?; \
	  grep -v "nosec encountered" $(VENV)/.bandit-log || true; \
	  if [ $$status -eq 0 ]; then echo "bandit: no issues in kq/"; fi; exit $$status
	$(PY) tools/audit.py

bench: system-deps $(VENV)/.dev-deps translations
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) kq/translations/*/LC_MESSAGES/*.mo .pytest_cache
