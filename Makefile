# Weir: make run (the demo pipeline on the embedded store), make test (everything).
GO        ?= go
BIN       := $(CURDIR)/bin
GOFLAGS_BUILD := -trimpath -buildvcs=false
CONNECTORS := $(notdir $(wildcard plugins/*))

.PHONY: all build run test bench proto fmt vet clean lock

# make test runs every test with the race detector; the integration tests
# build the weir and connector binaries themselves.
TEST_FLAGS ?= -race -count=1 -timeout 20m

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/weir ./host/cmd/weir
	@for c in $(CONNECTORS); do \
		echo "$(GO) build -o $(BIN)/weir-connector-$$c ./plugins/$$c"; \
		$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/weir-connector-$$c ./plugins/$$c || exit 1; \
	done

# proto regenerates the plugin protocol's Go code with the generators pinned in go.mod.
proto:
	PATH="$(CURDIR)/.tools:$$PATH" ; mkdir -p .tools ; \
	$(GO) build -o .tools/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go && \
	$(GO) build -o .tools/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc && \
	protoc -I proto --plugin=protoc-gen-go=.tools/protoc-gen-go --plugin=protoc-gen-go-grpc=.tools/protoc-gen-go-grpc \
		--go_out=. --go_opt=module=github.com/weirhq/weir \
		--go-grpc_out=. --go-grpc_opt=module=github.com/weirhq/weir \
		proto/weir/connector/v1/connector.proto

lock: build
	$(BIN)/weir plugins lock -config pipeline.hcl -plugin-dir $(BIN)

# run is the demo: pipeline.hcl against the vendor sandboxes (in-process),
# with demo data and a Black Friday burst of 5,000 orders; Ctrl-C stops it.
run: lock
	$(BIN)/weir dev -config pipeline.hcl

test:
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

vet:
	$(GO) vet ./...

clean:
	rm -rf $(BIN) .tools

# bench prints each figure of the brief's §8 beside a reference measured in
# the same run.
bench: build
	$(GO) run ./host/cmd/weirbench -bin $(BIN)
