package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/weirhq/weir/host/api"
	"github.com/weirhq/weir/host/daemon"
	"github.com/weirhq/weir/host/logging"
)

// runCmd is the daemon: it runs every pipeline until SIGTERM or SIGINT,
// then drains in-flight work and exits 0.
func runCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "[-config FILE]")
	file := fs.String("config", DefaultConfig, "pipeline file")
	var dirs stringList
	fs.Var(&dirs, "plugin-dir", "directory to search for connectors first (repeatable)")
	listen := fs.String("listen", "", "API listen address (overrides the api block)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	progress := fs.Bool("progress", isTerminal(os.Stderr), "print a line of progress every second")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	level, err := logging.ParseLevel(*logLevel)
	if err != nil {
		return usageError("%v", err)
	}
	format, err := logging.ParseFormat(*logFormat)
	if err != nil {
		return usageError("%v", err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	var secrets secretList
	log := slog.New(logging.Redact(logging.NewHandler(e.stderr, level, format), secrets.get))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	l, err := load(ctx, e, *file, dirs, log)
	if err != nil {
		return err
	}
	secrets.set(l.Config.Secrets())
	d, err := daemon.New(ctx, l, daemon.Options{Logger: log, Listen: *listen})
	if err != nil {
		return err
	}
	secrets.more(d.Secrets)
	if *progress {
		go printProgress(ctx, e.stderr, d)
	}
	if err := d.Run(ctx); err != nil {
		return err
	}
	return nil
}

// secretList feeds the log redactor: the configuration's secrets once it
// is loaded, and the live tokens of the daemon's OAuth broker.
type secretList struct {
	mu      sync.Mutex
	secrets []string
	live    func() []string
}

func (s *secretList) set(v []string)            { s.mu.Lock(); s.secrets = v; s.mu.Unlock() }
func (s *secretList) more(live func() []string) { s.mu.Lock(); s.live = live; s.mu.Unlock() }

func (s *secretList) get() []string {
	s.mu.Lock()
	secrets, live := s.secrets, s.live
	s.mu.Unlock()
	if live == nil {
		return secrets
	}
	return append(append([]string(nil), secrets...), live()...)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printProgress prints one line a second: per pipeline, accepted,
// delivered, waiting, in flight, retrying and dead letters.
func printProgress(ctx context.Context, w io.Writer, d *daemon.Daemon) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := d.Status(ctx)
		if err != nil {
			continue
		}
		for _, p := range st.Pipelines {
			fmt.Fprintln(w, progressLine(p))
		}
	}
}

func progressLine(p api.PipelineStatus) string {
	return fmt.Sprintf("%s  %s: accepted %d  delivered %d  waiting %d  in flight %d  retrying %d  dead letters %d",
		time.Now().Format("15:04:05"), p.Name, p.Accepted, p.Delivered, p.Ready+p.Pending, p.InFlight, p.Retrying, p.DeadLetters)
}
