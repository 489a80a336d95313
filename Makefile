# Code Runner — the two commands a newcomer needs:
#   make run    set up the host (Docker, packages), build images and binaries, serve on $(PORT)
#   make test   the same set-up, then unit + integration tests (SQLite and PostgreSQL) and the acceptance suite
SHELL := /bin/bash
PORT ?= 8000
WORKERS ?= 2
export PORT WORKERS

RELEASE_BIN := .build/release
ACCEPTANCE ?= ../shared/acceptance

.PHONY: run test setup images build build-debug lint unit-test postgres postgres-stop acceptance acceptance-postgres openapi ops-test client-test hostile multihost bench chaos chaos-ci clean-images help

help:
	@echo "make run | make test | make images | make build | make acceptance | make postgres | make postgres-stop"

## Install missing Debian packages and start dockerd when it is not running.
setup:
	@bash scripts/setup-host.sh

## Build the runtime images that are missing or out of date (FORCE=1 rebuilds).
images: setup
	@bash scripts/build-images.sh

## Release binaries of the API and the worker.
build:
	@swift build -c release --product code-runner-api
	@swift build -c release --product code-runner-worker

## Start the whole service in the foreground (Ctrl-C stops everything).
run: images build
	@exec bash scripts/run-service.sh

## Every test: unit and integration tests (real Docker, real SQLite and PostgreSQL), then the acceptance suite
## against a freshly started service.
test: lint images build unit-test acceptance acceptance-postgres openapi ops-test client-test hostile chaos-ci multihost

## The source's form: swift-format (settings in .swift-format; `swift format format --in-place
## --recursive Sources Tests Package.swift` fixes it) and the OpenAPI document as strict JSON.
lint:
	@swift format lint --strict --recursive Sources Tests Package.swift
	@bash scripts/run-openapi.sh --lint

## CODE_RUNNER_REQUIRE_DOCKER=1: the suites that need the engine fail rather than skip without it.
## Every queue test runs against SQLite and against PostgreSQL: the throw-away server of
## scripts/postgres-server.sh (started if it does not run, left running; `make postgres-stop`)
## gives TEST_POSTGRES_URL, and CODE_RUNNER_REQUIRE_POSTGRES=1 makes the PostgreSQL half fail
## rather than skip without it.
unit-test:
	@swift build --build-tests
	@url=$$(bash scripts/postgres-server.sh start) && eval "$$url" && export TEST_POSTGRES_URL && \
		CODE_RUNNER_REQUIRE_DOCKER=1 CODE_RUNNER_REQUIRE_POSTGRES=1 swift test --skip-build --no-parallel

## The tests' PostgreSQL 15 server (root; data in /var/tmp/code-runner-postgres, port 55432):
## started (or found running) and its TEST_POSTGRES_URL printed; stopped.
postgres:
	@bash scripts/postgres-server.sh start

postgres-stop:
	@bash scripts/postgres-server.sh stop

acceptance: build
	@bash scripts/run-acceptance.sh $(ACCEPTANCE)

## The acceptance suite again, with the service on PostgreSQL (DATABASE_URL: a fresh database on
## the tests' server, dropped afterwards).
acceptance-postgres: build
	@bash scripts/run-acceptance-postgres.sh $(ACCEPTANCE)

## GET /openapi.json kept true: the acceptance flows validated against it, then a schemathesis
## fuzz run (about 4 minutes; see scripts/run-openapi.sh).
openapi: build
	@bash scripts/run-openapi.sh $(ACCEPTANCE)

## /metrics names and figures, JSON logs, against a fresh service (Tests/ops).
ops-test: build
	@bash scripts/run-ops-tests.sh

## The Swift client library (Tests/ClientTests) and the code-runner CLI (Tests/cli) against a
## fresh service.
client-test: build
	@bash scripts/run-client-tests.sh

## Hostile code against a fresh service: escapes, bombs, floods, limits, network, orphans, auth.
hostile: build
	@bash scripts/run-hostile.sh

## The crash and load scenarios that are safe to run on any CI machine (everything but the
## dockerd restart).
chaos-ci: build
	@bash scripts/run-chaos.sh kill9-workers sigstop kill9-api sigterm-drain load disk-full postgres-restart stream-kill

## Several hosts on one machine, on PostgreSQL: API and worker hosts in network namespaces of their
## own (veth links, no default route), the acceptance suite through both APIs, then a worker host
## killed, a worker host cut off, an API killed during long-polls, the database server restarted,
## worker hosts with Docker engines of their own rebuilding a prebuilt image (Tests/chaos/multihost.py).
multihost: build
	@bash scripts/run-chaos.sh multihost host-kill9 host-partition api-kill hosts-postgres-restart host-engines

## Crash and load scenarios (kill -9, SIGSTOP, dockerd restart, 500 runs, disk full; root;
## restarts dockerd): scripts/run-chaos.sh, see Tests/chaos/README.md.
chaos: images build
	@bash scripts/run-chaos.sh

## Latency, throughput, queue and memory figures, side by side in one run (see scripts/bench.sh),
## the queue and POST /run on SQLite and on PostgreSQL (the tests' server, scripts/postgres-server.sh),
## measured by code-runner-bench (not part of `make build`: it is no production binary).
bench: images build
	@swift build -c release --product code-runner-bench
	@bash scripts/bench.sh

## Remove this service's runtime images (they are rebuilt by `make images`).
clean-images:
	@docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^code-runner-' | xargs -r docker rmi
