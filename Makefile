# Herald's build. `make run` and `make test` are all a newcomer needs.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

CONTROLLER_GEN := go tool controller-gen
# The folder holding kube-apiserver and etcd; built once per pinned version.
ASSETS = $(shell hack/controlplane/build.sh)
# Extra arguments for the herald binary in `make run`, such as ARGS=--zap-log-level=debug.
ARGS ?=
# Extra arguments for go test, such as TESTFLAGS='-run TestX'.
TESTFLAGS ?=
# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 60s
# Every fuzz target, as package:Target (docs/security.md says what each guards).
FUZZ_TARGETS := ./internal/egress:FuzzCheck ./internal/workflow:FuzzRender ./internal/feed:FuzzParse \
	./internal/publish/rules:FuzzCounters ./mcpserver:FuzzMCPRequest ./mcpserver:FuzzToolArguments \
	./mcpserver:FuzzParseTime ./mcpserver/oauth:FuzzRedirectURI

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRDs and RBAC role from the Go types and markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## gofmt every Go file.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet every package.
	go vet ./...

.PHONY: controlplane
controlplane: ## Build kube-apiserver and etcd from source into the cache (about 7 minutes, once per version).
	@hack/controlplane/build.sh

.PHONY: node-binaries
node-binaries: controlplane ## Build kubelet, kube-proxy, kube-scheduler and kube-controller-manager into the cache (about 3 to 7 minutes, once per version).
	@hack/controlplane/build.sh node

.PHONY: cluster
cluster: node-binaries ## Start a real single-node cluster (root; in network namespace herald-cluster) with Herald's image imported.
	@go run ./hack/cluster up

.PHONY: cluster-down
cluster-down: ## Stop the cluster of make cluster and remove everything it made.
	@go run ./hack/cluster down

.PHONY: test
test: node-binaries ## Run every test against a real kube-apiserver and etcd (and one in a real single-node cluster); prints totals.
	@echo ">> gofmt, go vet"
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$unformatted" ]; then echo "not gofmt-ed (run make fmt):"; echo "$$unformatted"; exit 1; fi
	@go vet ./...
	@echo ">> go test (control plane: $(ASSETS))"
	@GINKGO_NO_COLOR=TRUE KUBEBUILDER_ASSETS="$(ASSETS)" go test ./... -count=1 -json -timeout 60m $(TESTFLAGS) | go run ./hack/testreport

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (60s) each; their seed corpora also run in make test.
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; log=$$(mktemp); \
		echo ">> $$name ($$pkg, $(FUZZTIME))"; \
		go test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) > "$$log" 2>&1 || { cat "$$log"; exit 1; }; \
		tail -n 2 "$$log"; \
	done

##@ Benchmarks (results and how to read them: docs/benchmarks.md)

.PHONY: bench-mcp
bench-mcp: controlplane ## MCP tool latency and throughput against a bare mcp-go server, in one run.
	KUBEBUILDER_ASSETS="$(ASSETS)" go run ./hack/bench/mcp

.PHONY: soak
soak: controlplane ## Two herald replicas, 1,000 posts over 3 minutes plus two bursts of 500 due at one instant, 30% of platform calls faulted, a replica killed or rolled every 10-20 s; once with one publishing shard, once with 4; prints the accounting (docs/reliability.md).
	@for shards in 1 4; do \
		echo ">> soak, $$shards publishing shard(s)"; \
		SOAK_SHARDS=$$shards SOAK_DURATION=3m SOAK_POSTS=1000 SOAK_BURST=500 KUBEBUILDER_ASSETS="$(ASSETS)" go test ./test/soak -run TestSoak -count=1 -v -timeout 30m | grep -E '^(observed|--- |ok|FAIL|PASS)|soak_test.go'; \
	done

.PHONY: bench-scale
bench-scale: controlplane ## Start-up time, memory and list latency of the herald binary with 100,000 published posts in 100 workspaces, against one workspace's 1,000 in the same run.
	KUBEBUILDER_ASSETS="$(ASSETS)" go run ./hack/bench/scale

.PHONY: bench-publish
bench-publish: controlplane ## Publish lateness (10,000 posts over a minute; 200 and 10,000 at one instant; rates held at multiples of R) and status drain rate against the API server's raw update rate R, in one run.
	KUBEBUILDER_ASSETS="$(ASSETS)" go run ./hack/bench/publish

##@ Build and run

.PHONY: build
build: ## Build bin/herald.
	go build -trimpath -o bin/herald .

.PHONY: run
run: controlplane build ## Run Herald locally: an embedded control plane under .herald/ unless KUBECONFIG is set.
	KUBEBUILDER_ASSETS="$(ASSETS)" bin/herald --dev --egress-allow=127.0.0.0/8,::1 $(ARGS)

.PHONY: install
install: ## Install the CRDs into the cluster of the current kubeconfig.
	kubectl apply -k config/crd

.PHONY: build-installer
build-installer: controlplane ## Write dist/install.yaml: everything config/default installs, in one file (a test fails when it is stale).
	@mkdir -p dist
	"$(ASSETS)/kubectl" kustomize config/default > dist/install.yaml

.PHONY: chart
chart: controlplane ## Write charts/herald's CRDs and RBAC from config/default (a test fails when they are stale).
	"$(ASSETS)/kubectl" kustomize config/default | go run ./hack/chart

.PHONY: deploy
deploy: ## Deploy Herald (CRDs, RBAC, two replicas) into the cluster of the current kubeconfig.
	kubectl apply -k config/default

.PHONY: docker-build
docker-build: ## Build the container image (needs a container engine).
	docker build -t ghcr.io/herald-dev/herald:latest .
