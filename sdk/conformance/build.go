package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildMu   sync.Mutex
	buildDir  string
	buildBins = map[string]string{}
)

// Build compiles the connector package at pkg (a directory, "." for the
// calling test's own package) into a temporary executable named name, once
// per test process, and returns its path. Remove the directory with
// Cleanup from TestMain.
func Build(t testing.TB, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := buildBins[pkg]; ok {
		return bin
	}
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "weir-conformance-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = dir
	}
	bin := filepath.Join(buildDir, name)
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	buildBins[pkg] = bin
	return bin
}

// Cleanup removes what Build made. Call it from TestMain after m.Run.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildDir, buildBins = "", map[string]string{}
}
