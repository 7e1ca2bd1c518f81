# mqgate: the two commands of the README are `make demo` and `make test`.
BUILD    ?= build
TYPE     ?= RelWithDebInfo
SANITIZE ?=
JOBS     ?= $(shell nproc)
CMAKE_ARGS = -DCMAKE_BUILD_TYPE=$(TYPE) $(if $(SANITIZE),-DMQG_SANITIZE=$(SANITIZE))

.PHONY: all deps build test test-sanitize demo clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The whole suite: unit tests and integration tests against real servers.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize:
	@$(MAKE) --no-print-directory test BUILD=build-asan TYPE=Debug SANITIZE=address,undefined

# The main job end to end: broker, CA, device, proxy, a real client.
demo: build
	@scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan
