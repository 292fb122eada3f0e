// Package e2e holds Weir's end-to-end tests: they build the weir binary and
// the connectors, run them as real processes on real files and real HTTP,
// kill them with SIGKILL and SIGTERM, and check what reached the
// destination and the store.
package e2e
