# pcp -- peer copy. The two commands a new machine needs: `make demo` and `make test`.
GO      ?= go
BIN     ?= bin/pcp
PKGS    := ./...
# The network lab runs alone after the rest: hole punching is a timed
# simultaneous open, and beside the race-instrumented transfer tests on two
# cores DCUtR's three attempts can all miss.
LAB     := ./discovery/lab/
# The race detector makes the multi-hundred-MiB tests slow; CI's budget is 90 min.
# -count=1: every run tests, never a cached result.
TESTFLAGS ?= -race -count=1 -timeout 40m

SHELL := /bin/bash

.PHONY: all build test test-deps vet fuzz bench demo clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/pcp

# Install what the tests need (root only: nftables/conntrack/iproute2 for the
# network lab), then vet and run every test with the race detector.
# Every suite runs even when an earlier one fails; the target fails at the end
# if any did, naming them.
test: test-deps vet
	@failed=""; \
	$(GO) test $(TESTFLAGS) $$($(GO) list $(PKGS) | grep -v '/discovery/lab$$') || failed="$$failed packages"; \
	$(GO) test $(TESTFLAGS) -v $(LAB) 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:[0-9]+:'; \
	  [ "$${PIPESTATUS[0]}" = 0 ] || failed="$$failed network-lab"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: every suite passed"

test-deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  command -v nft >/dev/null       || missing="$$missing nftables"; \
	  command -v conntrack >/dev/null || missing="$$missing conntrack"; \
	  command -v ip >/dev/null        || missing="$$missing iproute2"; \
	  command -v unshare >/dev/null   || missing="$$missing util-linux"; \
	  command -v tc >/dev/null        || missing="$$missing iproute2"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	  fi; \
	else echo "not root: the network-lab tests will be skipped"; fi

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

# Short fuzzing runs of every fuzz target in the module (FUZZTIME each).
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) run ./cmd/pcp-bench

demo: build
	bash cmd/pcp/demo.sh $(BIN)

clean:
	rm -rf bin
