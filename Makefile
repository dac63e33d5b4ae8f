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
# Every platform pcp is built for (make cross, make release), and the GOOSes
# vetted besides the host's.
TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 freebsd/amd64
CROSS_GOOS := darwin windows freebsd
# VCS stamping of local builds (revision, time, modified: `pcp --version`);
# BUILDVCS=false where git cannot read the checkout.
BUILDVCS ?= auto
# make release VERSION=v1.2.3 names the version; without it, the build info
# gives the one the go command derives from the checkout's tag or commit.
VERSION ?=
DIST    := dist

SHELL := /bin/bash

.PHONY: all build test test-deps vet cross release fuzz bench demo clean

all: build

build:
	$(GO) build -trimpath -buildvcs=$(BUILDVCS) -o $(BIN) ./cmd/pcp

# Install what the tests need (root only: nftables/conntrack/iproute2 for the
# network lab, exfat-fuse/exfatprogs for a case-insensitive destination),
# then vet, build every target and vet each GOOS (cross), and run every test
# with the race detector.
# Every suite runs even when an earlier one fails; the target fails at the end
# if any did, naming them.
test: test-deps vet
	@failed=""; \
	$(MAKE) --no-print-directory cross || failed="$$failed cross-build/vet"; \
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
	  command -v mount.exfat-fuse >/dev/null || missing="$$missing exfat-fuse"; \
	  command -v mkfs.exfat >/dev/null       || missing="$$missing exfatprogs"; \
	  command -v miniupnpd >/dev/null        || missing="$$missing miniupnpd-nftables"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	  fi; \
	else echo "not root: the network-lab and exFAT tests will be skipped"; fi

vet:
	$(GO) vet $(PKGS)
	@files=$$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go'); \
	bad=$$(for f in $$files; do [ -e "$$f" ] && echo "$$f"; done | xargs gofmt -l); \
	test -z "$$bad" || { echo "$$bad"; echo "gofmt needed"; exit 1; }

# Build cmd/pcp for every target, and vet every package (tests too) for
# each other GOOS: platform code lives in _GOOS.go files that the host's
# build never compiles. Test binaries for them cannot run here, so the
# platform rules are pure functions tested on the host (engine/oserr.go).
cross:
	@set -e; for t in $(TARGETS); do \
	  echo "build $$t"; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -o /dev/null ./cmd/pcp; \
	done; \
	for os in $(CROSS_GOOS); do echo "vet $$os"; GOOS=$$os $(GO) vet $(PKGS); done

# Release binaries for every target into $(DIST)/, with -trimpath and the
# version stamped, and their SHA-256 sums in $(DIST)/SHA256SUMS.
release:
	@rm -rf $(DIST) && mkdir -p $(DIST) && set -e; \
	for t in $(TARGETS); do \
	  os=$${t%/*}; arch=$${t#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
	  echo "$(DIST)/pcp-$$os-$$arch$$ext"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=$(BUILDVCS) \
	    -ldflags "-s -w$(if $(VERSION), -X main.version=$(VERSION))" -o $(DIST)/pcp-$$os-$$arch$$ext ./cmd/pcp; \
	done; \
	cd $(DIST) && if command -v sha256sum >/dev/null; then sha256sum pcp-*; else shasum -a 256 pcp-*; fi > SHA256SUMS; \
	cat SHA256SUMS

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
	rm -rf bin $(DIST)
