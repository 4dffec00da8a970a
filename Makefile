# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export CHAT_CONFIG ?= development

.PHONY: run test install install-test vendor db clean

run: install vendor db
	@echo "Demo shop: http://127.0.0.1:5000   (admin panel: http://127.0.0.1:5000/admin)"
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: install-test vendor
	$(BIN)/pytest $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/.installed
$(VENV)/.installed: setup.cfg constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

install-test: $(VENV)/.installed-test
$(VENV)/.installed-test: setup.cfg constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(VENV)/.installed $@

# HTMX and its SSE extension, at the versions package-lock.json pins; `npm ci`
# refuses any file whose sha512 differs from the lock's integrity field.
vendor: static/vendor/.installed
static/vendor/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-sse/dist/sse.js static/vendor/
	touch $@

db: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi chat seed-demo

clean:
	rm -rf $(VENV) node_modules static/vendor
