# Two entry points, each doing every set-up step it needs on a fresh Debian machine:
#   make acceptance   the main job: bring up the embedded stack and run the acceptance suite
#   make test         the harness's own tests (negative controls included) and lint
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
GATEWAY_VENV ?= .venv-litellm
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export DEBIAN_FRONTEND := noninteractive

.PHONY: acceptance chaos chaos-quick load alerting test deps deps-test deps-alerting containers-ready compose-ready n8n venv gateway lint bench clean

# HARNESS_TARGET=file verifies an existing deployment instead of the embedded stack
TARGET_ARG := $(if $(HARNESS_TARGET),--target $(HARNESS_TARGET),)

acceptance: deps venv gateway
	$(VENV)/bin/harness acceptance $(TARGET_ARG)

chaos: deps venv gateway
	$(VENV)/bin/harness chaos $(TARGET_ARG)

chaos-quick: deps venv gateway
	$(VENV)/bin/harness chaos --quick $(TARGET_ARG)

PROFILE ?= steady
load: deps venv gateway
	$(VENV)/bin/harness load --profile $(PROFILE) $(TARGET_ARG)

# Prometheus, Alertmanager and the exporters start only for this suite (AL-1..AL-5)
alerting: deps-alerting venv gateway
	$(VENV)/bin/harness alerting $(TARGET_ARG)

test: deps-test venv gateway containers-ready compose-ready lint
	$(VENV)/bin/pytest tests --durations=20

lint: venv
	$(VENV)/bin/ruff check harness suites tests bench stack conftest.py

# redis-server and PostgreSQL run as real processes of the embedded stack
deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	{ command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	id postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# the alerting stack of the reference deployment, all from Debian
deps-alerting: deps
	@missing=""; \
	for pkg in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter; do \
	  command -v $$pkg >/dev/null || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# only the harness's own tests need a browser (the report test) and wrk (benches)
deps-test: deps deps-alerting
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# the containers provider's tests: docker.io and debootstrap, a running dockerd, the local images
containers-ready: deps venv
	@missing=""; \
	command -v dockerd >/dev/null || missing="$$missing docker.io"; \
	command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@docker info >/dev/null 2>&1 || { \
	  echo "starting dockerd (log: /tmp/harness-dockerd.log)"; \
	  $(SUDO) sh -c 'nohup dockerd >/tmp/harness-dockerd.log 2>&1 &'; \
	  for i in $$(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; \
	  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/harness-dockerd.log"; exit 1; }; }
	$(SUDO) $(VENV)/bin/harness images build

# the compose provider: Docker Compose v2 as a docker CLI plugin (Debian has only v1), from a hash-pinned package
compose-ready: containers-ready
	$(SUDO) stack/compose/install-compose.sh $(VENV)/bin/python

# router: n8n: Node 24 and n8n pinned by stack/n8n/package-lock.json, in a cache folder outside the repo
# (reused while the lock is unchanged); `make test` starts this itself, in the background, when it is missing
n8n: deps-test
	@command -v g++ >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq g++ make >/dev/null; }
	stack/n8n/install.sh

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

# The gateway under test lives in its own venv, installed only from the hash-pinned lock
gateway: $(GATEWAY_VENV)/.installed
$(GATEWAY_VENV)/.installed: stack/litellm/requirements.lock
	$(PYTHON) -m venv $(GATEWAY_VENV)
	$(GATEWAY_VENV)/bin/pip install -q --require-hashes --no-deps -r stack/litellm/requirements.lock
	cp stack/litellm/requirements.lock $(GATEWAY_VENV)/requirements.lock
	touch $@

bench: deps-test venv gateway
	@command -v wrk >/dev/null || $(SUDO) apt-get install -y -qq wrk >/dev/null
	$(VENV)/bin/python bench/cold_start.py
	$(VENV)/bin/python bench/mock_throughput.py
	$(VENV)/bin/python bench/proxy_latency.py
	$(VENV)/bin/python bench/acceptance_run.py
	$(VENV)/bin/python bench/load_headroom.py
	$(VENV)/bin/python bench/percentile_accuracy.py
	$(VENV)/bin/python bench/observer_throughput.py
	$(VENV)/bin/python bench/prompt_cost.py

clean:
	rm -rf $(VENV) $(GATEWAY_VENV) reports/*/
