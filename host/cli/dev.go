package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/weirhq/weir/host/dev"
	"github.com/weirhq/weir/host/logging"
)

// devCmd is `weir run` against the vendor sandboxes with demo data and a
// Black Friday burst.
func devCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "dev", "[-config FILE] [-until-drained] [-orders N] [-per DURATION]")
	file := fs.String("config", DefaultConfig, "pipeline file")
	until := fs.Bool("until-drained", false, "exit 0 after a summary once every order is handled (1 if the summary fails)")
	orders := fs.Int("orders", 5000, "orders in the Black Friday burst")
	per := fs.Duration("per", 4*time.Second, "the ERP's rate window for the demo (its minute, scaled): 99 requests per this")
	redis := fs.String("redis", "", "run on this Redis URL instead of the embedded store")
	listen := fs.String("listen", "", "API listen address (overrides the api block)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	var dirs stringList
	fs.Var(&dirs, "plugin-dir", "directory to search for connectors first (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	level, err := logging.ParseLevel(*logLevel)
	if err != nil {
		return usageError("%v", err)
	}
	log := slog.New(logging.NewHandler(e.stderr, level, logging.FormatText))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	_, err = dev.Run(ctx, dev.Options{
		ConfigFile: *file, PluginDirs: dirs, Orders: *orders, Per: *per, UntilDrained: *until,
		Redis: *redis, Listen: *listen, Terminal: isTerminal(os.Stdout), Out: e.stdout, Logger: log,
	})
	if err != nil {
		return err
	}
	return nil
}
