package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/weirhq/weir/host/plugins"
)

func pluginsCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "lock" && args[0] != "list") {
		return usageError("usage: weir plugins lock|list [-config FILE] [-plugin-dir DIR]")
	}
	verb := args[0]
	fs := newFlags(e, "plugins "+verb, "[-config FILE] [-plugin-dir DIR]")
	file := fs.String("config", DefaultConfig, "pipeline file; its directory holds "+plugins.LockFileName)
	var dirs stringList
	fs.Var(&dirs, "plugin-dir", "directory to search for connectors first (repeatable)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	dir := filepath.Dir(*file)
	found := discover(plugins.SearchDirs(dir, dirs...))
	lockPath := filepath.Join(dir, plugins.LockFileName)
	if verb == "list" {
		return listPlugins(ctx, e, found, lockPath)
	}
	return lockPlugins(ctx, e, *file, found, lockPath)
}

// discover returns every connector executable in dirs, the first found for
// each name.
func discover(dirs []string) map[string]string {
	out := map[string]string{}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, plugins.BinaryPrefix+"*"))
		for _, m := range matches {
			name := strings.TrimPrefix(filepath.Base(m), plugins.BinaryPrefix)
			if fi, err := os.Stat(m); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				continue
			}
			if _, seen := out[name]; !seen {
				out[name] = m
			}
		}
	}
	return out
}

// lockPlugins pins the connectors the configuration uses (every connector
// found when there is no configuration) in the lock file.
func lockPlugins(ctx context.Context, e *env, file string, found map[string]string, lockPath string) error {
	names := map[string]bool{}
	if _, err := os.Stat(file); err == nil {
		used, err := connectorsUsed(file)
		if err != nil {
			return configError(err)
		}
		for _, n := range used {
			names[n] = true
		}
	} else {
		for n := range found {
			names[n] = true
		}
	}
	lock, err := plugins.ReadLock(lockPath)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return configError(err)
		}
		lock = &plugins.Lock{Path: lockPath}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		path, ok := found[n]
		if !ok {
			return configError(fmt.Errorf("connector %q is used by %s but %s was not found; run \"make build\" or give -plugin-dir", n, file, plugins.BinaryName(n)))
		}
		sum, err := plugins.Checksum(path)
		if err != nil {
			return err
		}
		desc, err := plugins.Describe(ctx, path, sum, quietLogger(e.stderr))
		if err != nil {
			return fmt.Errorf("connector %q: %w", n, err)
		}
		lock.Pin(n, desc.Version, sum)
		fmt.Fprintf(e.stdout, "%s %s sha256:%s\n", n, desc.Version, hex.EncodeToString(sum))
	}
	if err := lock.Write(lockPath); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", lockPath)
	return nil
}

// listPlugins prints every connector found, its version, capabilities and
// whether the lock file pins it.
func listPlugins(ctx context.Context, e *env, found map[string]string, lockPath string) error {
	lock, lockErr := plugins.ReadLock(lockPath)
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(e.stdout, "%-12s %-8s %-40s %-10s %s\n", "CONNECTOR", "VERSION", "CAPABILITIES", "LOCK", "PATH")
	for _, n := range names {
		path := found[n]
		sum, err := plugins.Checksum(path)
		if err != nil {
			return err
		}
		state := "unpinned"
		if lockErr == nil {
			if _, err := lock.Verify(n, path); err == nil {
				state = "ok"
			} else if pin, ok := lock.Connectors[n]; ok && pin.SHA256 != nil {
				state = "MISMATCH"
			}
		}
		desc, err := plugins.Describe(ctx, path, sum, quietLogger(e.stderr))
		if err != nil {
			fmt.Fprintf(e.stdout, "%-12s %-8s %-40s %-10s %s (%v)\n", n, "?", "?", state, path, err)
			continue
		}
		caps := make([]string, len(desc.Capabilities))
		for i, c := range desc.Capabilities {
			caps[i] = string(c)
		}
		fmt.Fprintf(e.stdout, "%-12s %-8s %-40s %-10s %s\n", n, desc.Version, strings.Join(caps, ","), state, path)
	}
	if len(names) == 0 {
		fmt.Fprintln(e.stdout, "no connectors found; run \"make build\"")
	}
	return nil
}

// connectorsUsed returns the connector labels of a configuration file's
// connection blocks. It reads only the block headers, so it works before
// the environment the configuration needs is set.
func connectorsUsed(file string) ([]string, error) {
	f, diags := hclparse.NewParser().ParseHCLFile(file)
	if diags.HasErrors() {
		return nil, diags
	}
	content, _, diags := f.Body.PartialContent(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "connection", LabelNames: []string{"connector", "name"}}},
	})
	if diags.HasErrors() {
		return nil, diags
	}
	var out []string
	for _, b := range content.Blocks {
		out = append(out, b.Labels[0])
	}
	return out, nil
}
