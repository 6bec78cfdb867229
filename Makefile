# gatehouse: build, test, run, bench.
NODE ?= node
TSC := node_modules/.bin/tsc

.PHONY: build test test-node-engine test-ha demo bench bench-cpu bench-tls bench-tls-upstream bench-acl bench-stick bench-tcp bench-h2 bench-h2-tls clean check-config

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.installed build/Release/gatehouse_native.node
	$(TSC) -p tsconfig.json

# the optional native addon (native/, src/shared/native.ts): npm ci builds it; this rebuilds it
# when its source changes. A failed build leaves gatehouse on its pure-JS paths.
build/Release/gatehouse_native.node: native/gatehouse_native.c binding.gyp | node_modules/.installed
	npm run install --silent

# The files where the front engine matters (they run gatehouse and send it requests): run a
# second time with GATEHOUSE_ENGINE=node, the node:net engine as every config's default (a
# matrix, not copies of tests; files about uWS itself skip their uWS-only cases there, saying
# why). node-engine, front-node-* and the conformance replays pick the node engine themselves.
NODE_ENGINE_TESTS := client-abort client-address differential haproxy-compat hardening-requests \
	hardening-upstream listen-backlog persistence proxy-balancing proxy-bodies proxy-errors \
	proxy-forwarding proxy-lifecycle proxy-maxconn proxy-timeouts reload reload-counters \
	routing-e2e send-proxy server-tls signals stick-e2e tls websocket dns-discovery connect-pacing \
	stats-routed
NODE_ENGINE_FILES := $(patsubst %,dist-test/test/%.test.js,$(NODE_ENGINE_TESTS))
# run by test-node-engine only (the first pass of `make test` has them already)
NODE_ENGINE_ONLY := $(patsubst %,dist-test/test/%.test.js,accept-burst node-engine front-node-conformance front-node-engine front-node-listener front-node-proxy-protocol gatehouse-conformance tls-accept-proxy)

# Tests are compiled separately so dist/ stays the shippable tree.
test: build
	$(TSC) -p tsconfig.test.json
	$(NODE) --test --test-concurrency=1 --test-timeout=180000 dist-test/test/*.test.js
	GATEHOUSE_ENGINE=node $(NODE) --test --test-concurrency=1 --test-timeout=180000 $(NODE_ENGINE_FILES)

# only the node-engine half of the matrix (CI runs it again under Node 24: .ci/run)
test-node-engine: build
	$(TSC) -p tsconfig.test.json
	GATEHOUSE_ENGINE=node $(NODE) --test --test-concurrency=1 --test-timeout=180000 $(NODE_ENGINE_FILES) $(NODE_ENGINE_ONLY)

# two boxes with keepalived in network namespaces (root; skips with its reason otherwise)
test-ha: build
	$(TSC) -p tsconfig.test.json
	$(NODE) --test --test-concurrency=1 --test-timeout=180000 dist-test/test/ha-keepalived.test.js

demo: build
	$(NODE) dist/demo.js

bench: build
	bash native-bench/run.sh

# CPU µs per request: uWS engine, node engine and HAProxy in one run (native-bench/README.md, ~2 min)
bench-cpu: build
	$(NODE) native-bench/ab-cpu.mjs

# TLS handshakes/s and keep-alive TLS requests/s vs HAProxy (native-bench/README.md, ~5 min)
bench-tls: build
	$(NODE) native-bench/tls.mjs

# re-encryption: plain clients, TLS to the server (pooled / a resumed connection per request) vs HAProxy (~2 min)
bench-tls-upstream: build
	$(NODE) native-bench/tls-upstream.mjs

# cost of 20 ACL routing rules per request (native-bench/README.md, ~3-4 min)
bench-acl: build
	$(NODE) native-bench/acl-cost.mjs

# cost of track-sc0 + a rate ACL per request vs HAProxy (native-bench/README.md, ~2-3 min)
bench-stick: build
	$(NODE) native-bench/stick-cost.mjs

# mode tcp: connections/s and 1 MB echo throughput vs HAProxy (native-bench/README.md, ~1 min)
bench-tcp: build
	$(NODE) native-bench/tcp.mjs

# HTTP/2 (h2c, bind proto h2): h2load req/s and CPU per request vs HAProxy (native-bench/README.md, ~1 min)
bench-h2: build
	$(NODE) native-bench/h2.mjs

# HTTP/2 over TLS (ALPN h2): h2load req/s and CPU per request vs HAProxy (native-bench/README.md, ~1 min)
bench-h2-tls: build
	H2_TLS=1 $(NODE) native-bench/h2.mjs

clean:
	rm -rf dist dist-test
