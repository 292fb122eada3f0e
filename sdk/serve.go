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

// Logger returns a structured logger for connector code. Its lines go to
// stderr in the form the host parses, so they reach the host's log tagged
// with the connection's name. Never log secrets or tokens.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "@timestamp"
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
