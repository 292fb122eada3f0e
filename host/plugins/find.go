// Package plugins finds, pins, starts and supervises connector processes.
//
// A connector "<name>" is the executable weir-connector-<name>, found by
// Find in the directories SearchDirs lists. Its SHA-256 is pinned in
// weir.lock.hcl (Lock); a binary missing from the lock file or differing
// from it is refused (ErrUnverified). A Supervisor runs one connection's
// connector process: it starts it through go-plugin with the pinned checksum,
// health-checks it by RPC, restarts it with backoff when it crashes or hangs,
// forwards its stderr to the host's log, and makes sure it never outlives
// the host.
package plugins

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// BinaryPrefix starts the file name of every connector executable.
const BinaryPrefix = "weir-connector-"

// PluginDirEnv names the environment variable holding extra directories
// (a path list) to search for connectors.
const PluginDirEnv = "WEIR_PLUGIN_DIR"

// configBinDir is the directory, relative to the configuration file's
// directory, searched for connectors.
const configBinDir = "bin"

// validName is the form of a connector name; it keeps names from reaching
// outside the searched directories.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// BinaryName returns the executable file name of connector name.
func BinaryName(name string) string { return BinaryPrefix + name }

// SearchDirs returns the directories searched for connectors, in order: dirs
// (such as -plugin-dir flags), the entries of $WEIR_PLUGIN_DIR,
// <configDir>/bin, and the directory of the running weir executable. Empty
// and repeated entries are dropped.
func SearchDirs(configDir string, dirs ...string) []string {
	all := append([]string(nil), dirs...)
	all = append(all, filepath.SplitList(os.Getenv(PluginDirEnv))...)
	if configDir != "" {
		all = append(all, filepath.Join(configDir, configBinDir))
	}
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		all = append(all, filepath.Dir(exe))
	}
	seen := make(map[string]bool, len(all))
	out := make([]string, 0, len(all))
	for _, d := range all {
		if d == "" {
			continue
		}
		d = filepath.Clean(d)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// NotFoundError reports a connector executable found in none of the searched
// directories.
type NotFoundError struct {
	Connector string
	// Dirs are the directories searched, in order.
	Dirs []string
	// NotExecutable lists files that have the right name but cannot be run.
	NotExecutable []string
}

// Error implements error.
func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connector %q: no executable %s in ", e.Connector, BinaryName(e.Connector))
	if len(e.Dirs) == 0 {
		b.WriteString("any directory (none to search)")
	} else {
		b.WriteString(strings.Join(e.Dirs, ", "))
	}
	for _, f := range e.NotExecutable {
		fmt.Fprintf(&b, "; %s is not executable", f)
	}
	fmt.Fprintf(&b, `; run "make build" to build the connectors, or point -plugin-dir or %s at the directory holding them`, PluginDirEnv)
	return b.String()
}

// Find returns the path of connector name's executable in the first of dirs
// holding it, or a *NotFoundError naming every directory searched.
func Find(name string, dirs []string) (string, error) {
	if !validName.MatchString(name) {
		return "", fmt.Errorf("connector %q: invalid name: use lower-case letters, digits, '-' and '_'", name)
	}
	nf := &NotFoundError{Connector: name, Dirs: dirs}
	for _, d := range dirs {
		p := filepath.Join(d, BinaryName(name))
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return "", fmt.Errorf("connector %q: %w", name, err)
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			nf.NotExecutable = append(nf.NotExecutable, p)
			continue
		}
		return p, nil
	}
	return "", nf
}
