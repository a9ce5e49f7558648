# apiwatch — build, test, fuzz, bench.
#
#   make build   static binary in bin/apiwatch (no cgo, no libpcap)
#   make test    installs what the tests need (ClickHouse, node for the
#                boards' type check), then runs every test
#   make fuzz    runs each native fuzz target for FUZZTIME (default 60s)
#   make bench   Go benchmarks, then bench/compare.sh against tcpdump and tshark
#   make bench-e2e  sensor → Kafka → detector → ClickHouse latency and throughput
#   make generate  regenerates the checked-in protobuf code from event/*.proto

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 60s

.PHONY: all build test test-deps vet fuzz bench bench-e2e demo generate clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/apiwatch ./cmd/apiwatch

test-deps:
	./scripts/test-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The fuzz targets' seed corpora run as ordinary tests here; `make fuzz`
# explores beyond them. A ClickHouse server (Debian's clickhouse-server,
# installed when missing) runs on 127.0.0.1:19000 for the storage tests and
# is stopped afterwards, whatever the tests did.
CLICKHOUSE_TEST_DSN ?= clickhouse://127.0.0.1:19000
test: test-deps dashboards-deps vet
	CGO_ENABLED=0 $(GO) build ./...
	CLICKHOUSE_FRESH=1 ./scripts/clickhouse.sh start
	status=0; \
	APIWATCH_TEST_CLICKHOUSE=$(CLICKHOUSE_TEST_DSN) $(GO) test -count=1 -timeout 12m ./... || status=$$?; \
	[ $$status -ne 0 ] || APIWATCH_TEST_CLICKHOUSE=$(CLICKHOUSE_TEST_DSN) CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 8m ./pipeline/ ./cmd/... ./capture/ ./stream/ ./storage/ ./alert/ || status=$$?; \
	./scripts/clickhouse.sh stop; \
	exit $$status

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	./bench/compare.sh

# End to end: sensor → Kafka → detector → ClickHouse with the real binaries
# (latency per attack episode, throughput per stage; bench/README.md).
bench-e2e:
	./scripts/clickhouse.sh start
	$(GO) run ./bench/e2e

generate:
	./scripts/generate.sh

# Regenerates the bundled captures (deterministic for the seed).
demo:
	$(GO) run ./bench/gencap -seed 1 -size 2MB -o testdata/demo.pcap.gz
	$(GO) run ./bench/gencap -seed 1 -scenario attacks -duration 8m -rate 12 -o testdata/attacks-demo.pcap.gz

clean:
	rm -rf bin bench/out

# Records real attack tools (hydra, ffuf) against a real API inside private
# network namespaces: testdata/attacks/*.pcap.gz and their ground truth.
# Needs root; installs hydra, ffuf and tcpdump when missing.
.PHONY: attack-captures
attack-captures:
	./scripts/attack-captures.sh

# The Grafana data-source plugin (dashboards/plugin/README.md): static
# backend executables for Linux amd64 and arm64, named as Grafana looks for
# them (plugin.json "executable" + _linux_<arch>), with plugin.json, the
# frontend module and the README, in dashboards/plugin/dist. Copy that
# folder into Grafana's plugins directory as apiwatch-apiwatch-datasource.
PLUGIN_DIR  := dashboards/plugin
PLUGIN_DIST := $(PLUGIN_DIR)/dist
.PHONY: plugin
plugin:
	rm -rf $(PLUGIN_DIST)
	mkdir -p $(PLUGIN_DIST)/img
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w' \
	    -o $(PLUGIN_DIST)/gpx_apiwatch_linux_$$arch ./$(PLUGIN_DIR)/cmd/gpx_apiwatch || exit 1; \
	done
	cp $(PLUGIN_DIR)/plugin.json $(PLUGIN_DIR)/module.js $(PLUGIN_DIR)/README.md $(PLUGIN_DIST)/
	cp $(PLUGIN_DIR)/img/logo.svg $(PLUGIN_DIST)/img/

# The configuration reference, docs/configuration.md (every flag, variable
# and config key of every command, generated from the code), and the
# sample config files of deploy/systemd (the settings a host sets, then
# `apiwatch config example` verbatim below the "---- every setting" line).
# TestConfigurationReference and TestSystemdSampleConfigs fail when they
# differ from what the code generates: run make docs.
.PHONY: docs
docs:
	mkdir -p docs
	$(GO) run ./cmd/apiwatch config reference > docs/configuration.md
	for c in sensor detect; do \
	  f=deploy/systemd/$$c.yaml; \
	  { sed -n '1,/^# ---- every setting/p' $$f; $(GO) run ./cmd/apiwatch config example $$c; } > $$f.tmp && mv $$f.tmp $$f || exit 1; \
	done

# Release artefacts in dist/: static binaries for each platform, named
# apiwatch-VERSION-OS-ARCH (VERSION from git describe, commit linked in:
# `apiwatch version` prints both), the Grafana plugin (make plugin) as
# apiwatch-apiwatch-datasource-VERSION.tar.gz (and .zip when zip is
# installed: grafana cli --pluginUrl wants a zip), and SHA256SUMS.
DIST              ?= dist
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
.PHONY: release
release: plugin
	rm -rf $(DIST)
	mkdir -p $(DIST)/.plugin
	$(foreach p,$(RELEASE_PLATFORMS),CGO_ENABLED=0 GOOS=$(word 1,$(subst /, ,$(p))) GOARCH=$(word 2,$(subst /, ,$(p))) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/apiwatch-$(VERSION)-$(subst /,-,$(p)) ./cmd/apiwatch &&) true
	cp -r $(PLUGIN_DIST) $(DIST)/.plugin/apiwatch-apiwatch-datasource
	tar -czf $(DIST)/apiwatch-apiwatch-datasource-$(VERSION).tar.gz -C $(DIST)/.plugin apiwatch-apiwatch-datasource
	if command -v zip >/dev/null; then cd $(DIST)/.plugin && zip -qr ../apiwatch-apiwatch-datasource-$(VERSION).zip apiwatch-apiwatch-datasource; fi
	rm -rf $(DIST)/.plugin
	cd $(DIST) && sha256sum apiwatch-* > SHA256SUMS

# The boards' type check against @grafana/schema (dashboards/schema_test.go
# runs tsc): node and npm (Debian's nodejs and npm, installed when missing)
# and the packages dashboards/schema/package-lock.json pins (npm ci, skipped
# when node_modules holds them). make test runs it before the tests.
.PHONY: dashboards-deps
dashboards-deps:
	./dashboards/schema/deps.sh
