# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export CHAT_CONFIG ?= development

.PHONY: run test install install-test vendor db clean

run: install db
	@echo "Demo shop: http://127.0.0.1:5000   (admin panel: http://127.0.0.1:5000/admin)"
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: install-test
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

# For maintainers: refresh the committed HTMX files from the npm registry, at the
# versions package-lock.json pins (`npm ci` refuses a file whose sha512 differs),
# and rewrite static/vendor/vendor.lock.json. Newcomers never need Node.js.
vendor:
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-sse/dist/sse.js static/vendor/
	$(PYTHON) tools/vendor_lock.py

db: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi chat seed-demo

clean:
	rm -rf $(VENV) node_modules
