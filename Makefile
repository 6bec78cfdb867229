# gatehouse: build, test, run, bench.
NODE ?= node
TSC := node_modules/.bin/tsc

.PHONY: build test test-ha demo bench bench-tls bench-acl bench-stick bench-tcp clean check-config

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.installed
	$(TSC) -p tsconfig.json

# Tests are compiled separately so dist/ stays the shippable tree.
test: build
	$(TSC) -p tsconfig.test.json
	$(NODE) --test --test-concurrency=1 --test-timeout=180000 dist-test/test/*.test.js

# two boxes with keepalived in network namespaces (root; skips with its reason otherwise)
test-ha: build
	$(TSC) -p tsconfig.test.json
	$(NODE) --test --test-concurrency=1 --test-timeout=180000 dist-test/test/ha-keepalived.test.js

demo: build
	$(NODE) dist/demo.js

bench: build
	bash native-bench/run.sh

# TLS handshakes/s and keep-alive TLS requests/s vs HAProxy (native-bench/README.md, ~5 min)
bench-tls: build
	$(NODE) native-bench/tls.mjs

# cost of 20 ACL routing rules per request (native-bench/README.md, ~3-4 min)
bench-acl: build
	$(NODE) native-bench/acl-cost.mjs

# cost of track-sc0 + a rate ACL per request vs HAProxy (native-bench/README.md, ~2-3 min)
bench-stick: build
	$(NODE) native-bench/stick-cost.mjs

# mode tcp: connections/s and 1 MB echo throughput vs HAProxy (native-bench/README.md, ~1 min)
bench-tcp: build
	$(NODE) native-bench/tcp.mjs

clean:
	rm -rf dist dist-test
