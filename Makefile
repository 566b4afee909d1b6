# RTR - thin wrapper over CMake. The two set-up commands on a fresh Debian 12 machine:
#   make demo    install what is missing, build, run the demo
#   make test    install what is missing, build (warnings as errors), run every test,
#                then the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# Other targets: build, asan, fuzz, bench, install, format, format-check, clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
PREFIX     ?= /usr/local
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build asan test test-build test-asan demo fuzz bench install format format-check clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRTR_WERROR=ON \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRTR_WERROR=ON \
		-DRTR_SANITIZER=address,undefined $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

test-build: build
	@echo "== ctest: $(BUILD) (gcc, warnings as errors)"
	@cd $(BUILD) && ctest $(CTEST_ARGS)

test-asan: asan
	@echo "== ctest: $(ASAN_BUILD) (AddressSanitizer + UndefinedBehaviorSanitizer)"
	@cd $(ASAN_BUILD) && ctest $(CTEST_ARGS)

test: format-check test-build test-asan

demo: build
	@bash scripts/demo.sh $(BUILD)

fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DRTR_FUZZ=ON -DRTR_TESTS=OFF \
		-DRTR_SANITIZER=address,undefined >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target wire_fuzz
	@mkdir -p $(FUZZ_BUILD)/corpus && cp tests/proto/corpus/* $(FUZZ_BUILD)/corpus/
	$(FUZZ_BUILD)/proto/wire_fuzz -runs=$${RUNS:-1000000} $(FUZZ_BUILD)/corpus

bench: build
	@$(BUILD)/tools/rtrbench journal --producers 1 --records 2000 --size 200
	@$(BUILD)/tools/rtrbench journal --producers 64 --records 100000 --size 200

install: build
	@cmake --install $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@if command -v clang-format >/dev/null 2>&1; then \
		bad=$$(for f in $$(git ls-files '*.c' '*.h'); do \
			clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
		if [ -n "$$bad" ]; then echo "format-check: not clang-formatted (run make format):"; \
			echo "$$bad"; exit 1; fi; \
		echo "format-check: ok"; \
	else echo "format-check: clang-format not installed, skipped"; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
