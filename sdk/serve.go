package sdk

import (
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// parentCheckInterval is how often a connector checks that its host is alive.
// go-plugin leaves a connector running when its host is killed (SIGKILL);
// the host also sets Pdeathsig, and this check covers platforms and thread
// exits where that signal does not fire.
const parentCheckInterval = 200 * time.Millisecond

// Serve runs c as a connector plugin. It is the whole of a connector's main
// function and does not return.
func Serve(c Connector) {
	go exitWithParent(os.Getppid())
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(c),
		GRPCServer:       grpcServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: describe(c).Name, Output: os.Stderr, JSONFormat: true, Level: hclog.Info,
		}),
	})
}

func exitWithParent(ppid int) {
	for range time.Tick(parentCheckInterval) {
		if os.Getppid() != ppid {
			os.Exit(3)
		}
	}
}

// stderr is the process's standard error as it started. Once Serve runs,
// go-plugin points os.Stderr at a pipe whose data the host drops unless it
// asks for it; the original stderr is what the host parses into its log.
var stderr = os.Stderr

// logTimeFormat is the "@timestamp" layout go-plugin's host side parses;
// lines with any other layout reach the host's log only at debug level.
const logTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Logger returns a structured logger for connector code. Its lines go to
// stderr in the form the host parses, so they reach the host's log tagged
// with the connection's name. Never log secrets or tokens.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "@timestamp"
				if a.Value.Kind() == slog.KindTime {
					a.Value = slog.StringValue(a.Value.Time().Format(logTimeFormat))
				}
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				a.Key = "@message"
			}
			return a
		},
	}))
}
