package redis

import (
	"testing"

	"github.com/weirhq/weir/host/store"
	"github.com/weirhq/weir/host/store/storetest"
)

// TestConformance runs the store conformance suite against the Redis at
// WEIR_TEST_REDIS_URL (else 127.0.0.1:6379), each subtest under its own
// key prefix.
func TestConformance(t *testing.T) {
	url := testURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, url) })
}

// TestClusterConformance runs the conformance suite against a three-node
// Redis Cluster started by the test.
func TestClusterConformance(t *testing.T) {
	url := startCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, url) })
}
