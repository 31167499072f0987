# Every target does its own set-up: a fresh machine needs nothing but python3 (>= 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint sim bench features clean system-deps lab

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The whole lab live for about a minute: simulator, connector, simulated agents, traffic.
demo: $(STAMP)
	$(BIN)/mobagent demo

# Try the agent's app by hand: simulator with live traffic, connector, Mobile App Server,
# until Ctrl-C. Prints the app's URL (http://127.0.0.1:8090/) and the agents to sign in with.
lab: $(STAMP)
	$(BIN)/mobagent lab $(ARGS)

# The simulated Finesse alone, with its default roster, until Ctrl-C. Its ports, and any
# other option of `mobagent sim`:
#   make sim REST_PORT=9445 XMPP_PORT=6222 ARGS='--traffic busy_monday --speed 10'
REST_PORT ?= 8445
XMPP_PORT ?= 5222
ARGS ?=
sim: $(STAMP)
	$(BIN)/mobagent sim --rest-port $(REST_PORT) --xmpp-port $(XMPP_PORT) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Chromium, nginx and redis-server, which the tests run for real (apt-get when missing).
system-deps:
	sh tools/system-deps.sh

test: lint system-deps
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m scenarios.bench.sim_bench

# The Gherkin call-flow features, and the checks of features/ (every step resolves, every
# scenario checks the app and Finesse): a Cucumber JSON report and a readable summary.
features: $(STAMP)
	mkdir -p reports
	$(BIN)/python -m pytest -q tests/bdd/test_features.py tests/bdd/test_catalogue.py \
		--cucumberjson=reports/cucumber.json; status=$$?; \
	$(BIN)/python -m scenarios.report reports/cucumber.json; exit $$status

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
