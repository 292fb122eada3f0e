// Package daemon assembles a Weir host from its configuration: it verifies
// and describes connectors, resolves the configuration against their
// schemas, opens the store, supervises one connector process per
// connection, and runs the engine and the HTTP API until it is told to stop.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/plugins"
	_ "github.com/weirhq/weir/host/translate" // the translation functions of pipeline files
	"github.com/weirhq/weir/sdk"
)

// LoadOptions say where to find the configuration and connectors.
type LoadOptions struct {
	// ConfigFile is the pipeline file, e.g. "pipeline.hcl".
	ConfigFile string
	// PluginDirs are searched for connectors before the defaults.
	PluginDirs []string
	Logger     *slog.Logger
}

// Binary is a verified connector executable.
type Binary struct {
	Path     string
	Checksum []byte
}

// Loaded is a parsed and resolved configuration with verified connectors.
type Loaded struct {
	Config *config.Config
	// Dir is the configuration file's directory.
	Dir string
	// LockFile is the lock file's path.
	LockFile string
	// Binaries maps connector names to their verified executables.
	Binaries map[string]Binary
	// Descriptions maps connector names to what they described.
	Descriptions map[string]sdk.Description
	// Warnings are the configuration's warning diagnostics (it has no
	// errors), for the caller to show.
	Warnings hcl.Diagnostics
}

// LogWarnings logs the configuration's warnings, one record each with its
// file:line:col, for commands whose log may be JSON.
func (l *Loaded) LogWarnings(log *slog.Logger) {
	for _, w := range l.Warnings {
		var b strings.Builder
		config.FormatDiagnostics(&b, hcl.Diagnostics{w})
		log.Warn("configuration", "warning", strings.TrimSpace(b.String()))
	}
}

// DiagnosticsError carries configuration diagnostics; the CLI prints them
// as file:line:col lines and exits 2.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

// Error implements error.
func (e *DiagnosticsError) Error() string { return e.Diags.Error() }

// Load parses the configuration, verifies every connector it uses against
// the lock file, asks each for its description and resolves the
// configuration against them. Configuration problems are returned as a
// *DiagnosticsError; an unverified connector as an error matching
// plugins.ErrUnverified.
func Load(ctx context.Context, opts LoadOptions) (*Loaded, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// Parse errors do not stop Resolve: every error of a file is reported
	// at once, including those only the connectors' schemas reveal.
	cfg, diags := config.Parse(opts.ConfigFile)
	if len(cfg.Files) == 0 {
		return nil, &DiagnosticsError{Diags: diags}
	}
	dir := filepath.Dir(opts.ConfigFile)
	l := &Loaded{Config: cfg, Dir: dir, LockFile: filepath.Join(dir, plugins.LockFileName),
		Binaries: map[string]Binary{}, Descriptions: map[string]sdk.Description{}}

	lock, lockErr := plugins.ReadLock(l.LockFile)
	dirs := plugins.SearchDirs(dir, opts.PluginDirs...)
	var mu sync.Mutex
	var verifyErr error
	describer := config.DescriberFunc(func(ctx context.Context, name string) (sdk.Description, error) {
		path, err := plugins.Find(name, dirs)
		if err != nil {
			return sdk.Description{}, err
		}
		if lockErr != nil {
			mu.Lock()
			verifyErr = fmt.Errorf("connector %q: lock file: %w", name, lockErr)
			mu.Unlock()
			return sdk.Description{}, verifyErr
		}
		sum, err := lock.Verify(name, path)
		if err != nil {
			mu.Lock()
			if verifyErr == nil {
				verifyErr = err
			}
			mu.Unlock()
			return sdk.Description{}, err
		}
		desc, err := plugins.Describe(ctx, path, sum, opts.Logger)
		if err != nil {
			return sdk.Description{}, fmt.Errorf("describe %s: %w", path, err)
		}
		mu.Lock()
		l.Binaries[name] = Binary{Path: path, Checksum: sum}
		l.Descriptions[name] = desc
		mu.Unlock()
		return desc, nil
	})
	diags = append(diags, cfg.Resolve(ctx, describer)...)
	config.SortDiagnostics(diags)
	if verifyErr != nil && errors.Is(verifyErr, plugins.ErrUnverified) {
		return nil, verifyErr
	}
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags}
	}
	l.Warnings = diags
	return l, nil
}
