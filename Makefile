# gatehouse: build, test, run, bench.
NODE ?= node
TSC := node_modules/.bin/tsc

.PHONY: build test demo bench clean check-config

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.installed
	$(TSC) -p tsconfig.json

# Tests are compiled separately so dist/ stays the shippable tree.
test: build
	$(TSC) -p tsconfig.test.json
	$(NODE) --test --test-concurrency=1 --test-timeout=180000 dist-test/test/*.test.js

demo: build
	$(NODE) dist/demo.js

bench: build
	bash native-bench/run.sh

clean:
	rm -rf dist dist-test
