# pcf-afxdp - `make up` runs a lab node, `make test` runs every test, `make down` removes it.
# Configuration by environment (README: Configuration).
SHELL := /bin/bash
.DEFAULT_GOAL := build

export PCF_LAB     ?= pcf
export PCF_PIN_DIR ?= /sys/fs/bpf/pcf
export PCF_HTTP    ?= 127.0.0.1:8080
export PCF_GRPC    ?= 127.0.0.1:50051
export PCF_DB      ?= $(CURDIR)/var/$(PCF_LAB)/pcf.db
export PCF_GRPC_UNIX ?= $(CURDIR)/var/$(PCF_LAB)/grpc.sock

# Debian packages the build, the lab and the tests use.
APT_PACKAGES := clang llvm libbpf-dev libxdp-dev xdp-tools bpftool libdpdk-dev pkg-config \
                libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc \
                iproute2 iputils-ping ethtool curl tcpdump tshark netsniff-ng gcc-multilib python3 openssl \
                nftables sockperf gnuplot-nox python3-grpcio systemtap-sdt-dev bpftrace

NATIVE_ADDON := native/build/Release/pcf_native.node

.PHONY: deps build up down test bench reliability lab-up lab-down clean typecheck

deps: var/.apt-stamp node_modules/.pcf-stamp

# Installs only what is missing; a no-op on a prepared machine.
var/.apt-stamp: Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@mkdir -p var && touch $@

node_modules/.pcf-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: deps
	$(MAKE) -C xdp
	$(MAKE) -C dpdk
	@$(MAKE) --no-print-directory $(NATIVE_ADDON) server/generated/openapi.ts server/generated/proto/pcf.ts

$(NATIVE_ADDON): native/binding.gyp $(wildcard native/src/*) include/pcf_common.h include/pcf_map_info.h node_modules/.pcf-stamp
	cd native && npx --no-install node-gyp rebuild

server/generated/openapi.ts: openapi.yaml node_modules/.pcf-stamp
	npx --no-install openapi-typescript openapi.yaml -o $@

# The gRPC messages' types (proto-loader-gen-types with api/proto.ts's loader options: package.json
# gen:proto), one file per message under pcf/v1/; pcf.ts is the package. Any .proto change redoes them all.
server/generated/proto/pcf.ts: $(wildcard proto/pcf/v1/*.proto) package.json node_modules/.pcf-stamp
	rm -rf server/generated/proto
	npm run --silent gen:proto

typecheck: build
	npx --no-install tsc --noEmit

up: build
	@scripts/up.sh

down:
	@scripts/down.sh

lab-up:
	@scripts/lab.sh up

lab-down:
	@scripts/lab.sh down

# Tests run one file at a time: the lab tests use real namespaces and both cores.
test: build typecheck
	node --import tsx --test --test-concurrency=1 --test-timeout=600000 test/*.test.ts

# Every benchmark, its results in bench/results/ (<name>.json, <name>.md, REPORT.md: bench/run.sh).
# QUICK=1: the short version of each (a few minutes in all), passed on in the environment.
QUICK ?=
bench: build
	@QUICK=$(QUICK) bench/run.sh

# The reliability suite with its figures (make test runs it short: test/reliability.test.ts).
reliability: build
	node --import tsx reliability/run.ts

clean:
	$(MAKE) -C dpdk clean
	rm -rf build native/build server/generated
