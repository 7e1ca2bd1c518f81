# mqgate: the two commands of the README are `make demo` and `make test`.
BUILD    ?= build
TYPE     ?= RelWithDebInfo
SANITIZE ?=
JOBS     ?= $(shell nproc)
# The project's own builds treat warnings as errors (a plain cmake does not).
CMAKE_ARGS = -DCMAKE_BUILD_TYPE=$(TYPE) -DMQG_WERROR=ON $(if $(SANITIZE),-DMQG_SANITIZE=$(SANITIZE))

.PHONY: all deps build test test-sanitize demo clean boringssl fuzz fuzz-build fuzz-test bench bench-quick bench-registry profile install package
.PHONY: build-release image-deps image image-test

all: build

deps:
	@scripts/deps.sh

# Debian's BoringSSL rebuilt without OPENSSL_SMALL into .deps/boringssl (CMake prefers it).
boringssl:
	@scripts/boringssl.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# mqgate on a server (packaging/): the binaries, /etc/mqgate/mqgate.ini
# (PREFIX/etc/mqgate unless PREFIX is /usr), the systemd unit, the docs;
# DESTDIR=/tmp/stage stages them. `make package` builds the Debian
# package $(BUILD)/mqgate_<version>-1_<arch>.deb (CPack).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

package: build
	@cd $(BUILD) && cpack -G DEB
	@ls $(BUILD)/mqgate_*.deb

# The whole suite: unit tests and integration tests against real servers,
# then every fuzzer for MQG_FUZZ_SECONDS (default 30) each.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2
	@if [ -z "$(NO_FUZZ)" ]; then $(MAKE) --no-print-directory fuzz-test; fi

# The fuzzers of tests/fuzz: their own clang build in $(FUZZ_BUILD), run by
# ctest (fuzz.<target>); skipped, with a note, where there is no clang.
# `make fuzz` runs each for FUZZ_SECONDS (default 600) instead.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 600
fuzz-build: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQG_WERROR=ON -DMQG_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target mqg-fuzzers

fuzz-test:
	@if command -v clang >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory fuzz-build && cd $(FUZZ_BUILD) && \
	  ctest --output-on-failure -j 2 -R '^fuzz\.' --timeout $$(( $${MQG_FUZZ_SECONDS:-30} + 300 )) && \
	  grep -h '^fuzz\..*executions' Testing/Temporary/LastTest.log; \
	else echo "fuzz tests skipped: no clang (CC=clang -DMQG_FUZZ=ON)"; fi

fuzz: fuzz-build
	@cd $(FUZZ_BUILD) && MQG_FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  ctest --output-on-failure -j 2 -R '^fuzz\.' --timeout $$(( $(FUZZ_SECONDS) + 300 )) && \
	  grep -h '^fuzz\..*executions' Testing/Temporary/LastTest.log

# What a user's or the image's Release build compiles (-O3), here with
# warnings as errors, with gcc and with clang: a warning only the optimiser
# finds fails CI too.
build-release: deps
	@cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMQG_WERROR=ON >/dev/null
	@cmake --build build-release -j $(JOBS)
	@CC=clang cmake -S . -B build-release-clang -DCMAKE_BUILD_TYPE=Release -DMQG_WERROR=ON >/dev/null
	@cmake --build build-release-clang -j $(JOBS)

# The container image (docker/Dockerfile): Docker if an engine answers, else
# podman/buildah (base images made with mmdebstrap when none can be pulled),
# and the sidecar story run with the image's own programs (tests/image).
IMAGE ?= mqgate:local
image-deps:
	@scripts/deps.sh podman buildah mmdebstrap

image: image-deps
	@IMAGE=$(IMAGE) scripts/image.sh build

image-test: image
	@IMAGE=$(IMAGE) scripts/image.sh test

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize:
	@$(MAKE) --no-print-directory test BUILD=build-asan TYPE=Debug SANITIZE=address,undefined NO_FUZZ=1

# The main job end to end: broker, CA, device, proxy, a real client.
demo: build
	@scripts/demo.sh $(BUILD)

# mqgate against Mosquitto TLS, HAProxy, NGINX, hitch and stunnel on this
# machine (bench/compare, results in bench/results/): the full set (under
# 30 minutes, with the reconnect storm) or the reduced one (under 3). bench-deps.sh installs the peers.
bench: build
	@scripts/bench-deps.sh
	@bench/compare --build $(BUILD)
	@bench/registry --build $(BUILD)

# The registry at 10,000, 100,000 and 1,000,000 certificates (bench/registry,
# about 10 minutes; REGISTRY_SIZES=... for others): memory per certificate,
# mqgatectl and the proxy's calls with the longest Redis command of each,
# handshakes with cold and warm caches.
REGISTRY_SIZES ?= 10000,100000,1000000
bench-registry: build
	@bench/registry --build $(BUILD) --sizes $(REGISTRY_SIZES)

bench-quick: build
	@scripts/bench-deps.sh
	@bench/compare --quick --build $(BUILD)

# Where mqgate's CPU goes per handshake and per forwarded message (perf).
profile: build
	@bench/profile --build $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-release build-release-clang $(FUZZ_BUILD)
