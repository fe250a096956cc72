# totemd: `make run` starts the demo, `make test` runs every test (installing what is missing).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
GO ?= go
FUZZTIME ?= 10s

.PHONY: all build run test test-browser screenshots deps lint vet fmt fuzz bench clean

E2E := ui/web/e2e

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/totemd ./cmd/totemd

## run: the daemon in demo mode (simulated PSP, TEF manager and printer); UI on http://127.0.0.1:8787
run: build
	./bin/totemd run --demo --state-dir var/demo

## deps: install what the build and the tests need when it is missing (Debian, as root)
deps:
	@scripts/deps.sh

## test: lint, then every test with the race detector, then the browser tests of the kiosk UI
test: deps lint
	$(GO) test -race -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory test-browser

## test-browser: the kiosk UI (ui/web/e2e) in Debian's chromium, driven by playwright-core,
## against real `totemd run --demo` daemons (built by the tests); screenshots in $(E2E)/artifacts
test-browser: deps $(E2E)/node_modules/.package-lock.json
	cd $(E2E) && GO="$(GO)" node --test kiosk.test.mjs

## screenshots: the browser tests, then their main screenshots at half size into docs/screenshots
screenshots: test-browser
	cd $(E2E) && node screenshots.mjs

# npm ci when node_modules is missing or older than the lock file (npm ci writes this file last).
$(E2E)/node_modules/.package-lock.json: $(E2E)/package.json $(E2E)/package-lock.json
	cd $(E2E) && npm ci --no-audit --no-fund
	@touch $@

lint: fmt vet

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## fuzz: every fuzz target for FUZZTIME (default 10s) each
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

## bench: the benchmarks whose figures are in docs/benchmarks.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

clean:
	rm -rf bin var $(E2E)/artifacts
