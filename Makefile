# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export CHAT_CONFIG ?= development

# The demo's mails go to its own catcher (Procfile.dev's `mail`), never to a real server.
DEMO_MAIL_PORT ?= 1025

.PHONY: run test lint install install-test catalogs extract vendor db password reset clean

# The web server, the mail worker and the mail catcher (Procfile.dev), run by honcho;
# Ctrl+C stops all three.
run: install catalogs db
	@echo "Demo shop: http://127.0.0.1:5000   (admin panel: http://127.0.0.1:5000/admin)"
	@echo "Mails are printed here and kept in instance/mail/. Ctrl+C stops everything."
	PATH="$(CURDIR)/$(BIN):$$PATH" MAIL_SERVER=127.0.0.1 MAIL_PORT=$(DEMO_MAIL_PORT) \
		$(BIN)/honcho -f Procfile.dev start

test: install-test catalogs
	$(BIN)/pytest $(PYTEST_ARGS)

# ruff: lint and format check (CI runs it before the tests); `ruff format .` fixes the format.
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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

# The translations (chat/translations/<lang>/LC_MESSAGES/messages.po) compiled to the .mo
# files the app reads (never committed); fuzzy or missing entries fall back to English.
catalogs: install
	$(BIN)/pybabel -q compile -d chat/translations

# For translators: every string of the code and templates into messages.pot, then merged
# into each language's catalog (new strings appear there empty, to be translated).
extract: install
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext --project=product-chat --no-location --sort-output -o chat/translations/messages.pot .
	$(BIN)/pybabel -q update -i chat/translations/messages.pot -d chat/translations --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --no-wrap

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

# The demo admin's login again (the password is kept in instance/demo-admin-password).
password:
	@test -f instance/demo-admin-password || { echo "No demo yet: run make run first." >&2; exit 1; }
	@echo "Admin login: admin@example.com / $$(cat instance/demo-admin-password)"
	@test ! -f instance/demo-agent-password || echo "Agent login: agent@example.com / $$(cat instance/demo-agent-password)"

# Start the demo afresh: its database, secret key, admin password and caught mails go.
reset:
	rm -rf instance

clean:
	rm -rf $(VENV) node_modules .cache
