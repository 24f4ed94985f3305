# make run: start portalo. make test: the whole test suite with its servers
# (see deploy/test.sh); pass go test arguments with ARGS='-run X ./pkg/'.
.PHONY: run test

run:
	go run ./cmd/portalo

test:
	bash deploy/test.sh $(ARGS)
