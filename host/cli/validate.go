package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/hcl/v2"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/daemon"
	"github.com/weirhq/weir/host/plugins"
)

// load parses and resolves the configuration, printing its errors; every
// configuration error is an exit-2 error. The configuration's warnings go
// to log when it is set (weir run: its log may be JSON), else they are
// printed like errors; connectors' own start-up logs go to a quiet logger
// then.
func load(ctx context.Context, e *env, file string, pluginDirs []string, log *slog.Logger) (*daemon.Loaded, error) {
	connLog := log
	if connLog == nil {
		connLog = quietLogger(e.stderr)
	}
	l, err := daemon.Load(ctx, daemon.LoadOptions{ConfigFile: file, PluginDirs: pluginDirs, Logger: connLog})
	var de *daemon.DiagnosticsError
	switch {
	case err == nil:
		if log == nil {
			config.FormatDiagnostics(e.stderr, l.Warnings)
		} else {
			l.LogWarnings(log)
		}
		return l, nil
	case errors.As(err, &de):
		config.FormatDiagnostics(e.stderr, de.Diags)
		n := 0
		for _, d := range de.Diags {
			if d.Severity == hcl.DiagError {
				n++
			}
		}
		fmt.Fprintf(e.stderr, "%d error(s) in %s\n", n, file)
		return nil, silent(ExitUsage)
	case errors.Is(err, plugins.ErrUnverified):
		return nil, configError(err)
	}
	return nil, configError(err)
}

// quietLogger logs only warnings and worse, for commands other than run.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func validateCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "validate", "[-config FILE]")
	file := fs.String("config", DefaultConfig, "pipeline file")
	var dirs stringList
	fs.Var(&dirs, "plugin-dir", "directory to search for connectors first (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	l, err := load(ctx, e, *file, dirs, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is valid: %d pipeline(s), %d connection(s)\n", *file, len(l.Config.Pipelines), len(l.Config.Connections))
	return nil
}
