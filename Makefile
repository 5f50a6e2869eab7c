# The two commands of the README:
#   make demo   a learner with two local rollout workers over ZeroMQ, then a summary
#   make test   every test: Swift unit + integration (real processes), C client, the
#               learner's TensorBoard event files read back by TensorBoard itself, a short
#               pass of each fuzz target (libFuzzer, AddressSanitizer), /metrics and the
#               alert rules through promtool, the runnable command blocks of README.md and
#               docs/operations.md as typed (scripts/doc-check.py), the Python worker SDK
#               (python/, against a real learner), the dist
#               tarball trained without the Swift toolchain, and deploy/ (systemd, Slurm,
#               Kubernetes) tested for real
# Both install missing system packages first; `make test` also makes .venv-tensorboard
# (pip install tensorboard) when it is missing.

SWIFT ?= swift
CCLIENT_DIR := .build-cclient
TB_PYTHON := $(abspath .venv-tensorboard)/bin/python

PREFIX ?= /usr/local

.PHONY: demo test deps dist install test-dist test-deploy build build-release cclient tensorboard-venv bench-transport bench-learning protos fuzz asan tsan clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build --build-tests

build-release: deps
	$(SWIFT) build -c release

cclient: deps
	@./Tests/CClient/build.sh $(abspath $(CCLIENT_DIR)) >/dev/null

tensorboard-venv: deps
	@./scripts/tensorboard-venv.sh >/dev/null

demo: build-release
	@./scripts/demo.sh

test: build cclient tensorboard-venv
	TRIBUTARY_TB_PYTHON=$(TB_PYTHON) \
	TRIBUTARY_BIN_DIR=$$($(SWIFT) build --show-bin-path) \
	TRIBUTARY_CCLIENT=$(abspath $(CCLIENT_DIR))/tributary-c-client \
	$(SWIFT) test --skip-build
	./scripts/fuzz.sh $(FUZZ_SECONDS)
	./scripts/test-prometheus.sh $$($(SWIFT) build --show-bin-path)
	./scripts/doc-check.py $$($(SWIFT) build --show-bin-path)
	./scripts/test-python.sh $$($(SWIFT) build --show-bin-path)
	./scripts/seed-reproduction.sh --smoke $$($(SWIFT) build --show-bin-path)
	$(MAKE) test-dist
	$(MAKE) test-deploy

# Release binaries with the Swift runtime linked in, as dist/tributary-<version>-linux-<arch>.tar.gz
# (its README names the Debian packages they need); `make install` puts them in PREFIX.
dist: deps
	@./scripts/dist.sh

install: deps
	@tarball=$$(./scripts/dist.sh) && stage=$${tarball%.tar.gz} && \
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share && \
	install -m 0755 $$stage/bin/* $(DESTDIR)$(PREFIX)/bin/ && \
	cp -r $$stage/share/. $(DESTDIR)$(PREFIX)/share/ && \
	echo "installed learner, rollout-worker, tributary into $(DESTDIR)$(PREFIX)/bin ($$(basename $$stage))"

# The tarball's learner and workers train CartPole in a mount namespace that hides the toolchain.
test-dist: deps
	./scripts/test-dist.sh $$(./scripts/dist.sh)

# Each libFuzzer target for 60 s (docs/security.md); `make test` runs them for FUZZ_SECONDS.
FUZZ_SECONDS ?= 10
fuzz: deps
	FUZZ_MERGE=1 ./scripts/fuzz.sh 60

# The whole suite under a sanitizer (docs/security.md, "Sanitizers"); reports go to
# .build-<sanitizer>/reports. Slow (TSan: 5-15x), not part of `make test`.
SANITIZER_FLAGS_asan := -Xswiftc -sanitize=address
SANITIZER_FLAGS_tsan := -Xswiftc -sanitize=thread -Xswiftc -DTRIBUTARY_TSAN
asan tsan: deps cclient tensorboard-venv
	$(SWIFT) build --build-tests --scratch-path .build-$@ $(SANITIZER_FLAGS_$@)
	mkdir -p .build-$@/reports
	ASAN_OPTIONS="detect_leaks=0 log_path=$(abspath .build-$@)/reports/asan" \
	TSAN_OPTIONS="exitcode=0 log_path=$(abspath .build-$@)/reports/tsan" \
	TRIBUTARY_TB_PYTHON=$(TB_PYTHON) \
	TRIBUTARY_BIN_DIR=$$($(SWIFT) build --scratch-path .build-$@ $(SANITIZER_FLAGS_$@) --show-bin-path) \
	TRIBUTARY_CCLIENT=$(abspath $(CCLIENT_DIR))/tributary-c-client \
	$(SWIFT) test --skip-build --scratch-path .build-$@ $(SANITIZER_FLAGS_$@) || true
	@ls .build-$@/reports; echo "reports: .build-$@/reports (none: no findings)"

bench-transport: deps
	./Benchmarks/transport/run.sh

bench-learning: deps
	./Benchmarks/learning/run.sh

protos:
	./scripts/generate-protos.sh

clean:
	rm -rf .build $(CCLIENT_DIR) .build-fuzz .build-dist dist

# deploy/: the systemd units (as processes, and under a real systemd in a container), the
# two-machine walkthrough (network namespaces), the Kubernetes manifests (kubernetes-validate) and
# the Slurm batch script (a real single-node slurmctld/slurmd), on the tarball's binaries
# (docs/deployment.md, "How each is tested"). Each test installs what it misses (apt, PyPI).
test-deploy: deps
	@bin=$$(t=$$(./scripts/dist.sh) && echo $${t%.tar.gz}/bin) && \
	for t in systemd systemd-nspawn two-hosts kubernetes slurm; do \
	  TRIBUTARY_BIN_DIR=$$bin ./deploy/test/$$t.sh || exit 1; done
