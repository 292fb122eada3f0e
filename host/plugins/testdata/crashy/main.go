// Command crashy is the connector the plugins package's tests run. It
// reports its environment in its description, logs through sdk.Logger when
// configured, and on request (a Lookup of object "exit", "hang", "panic" or
// "hostile") exits, stops answering, panics or writes a malformed log line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/weirhq/weir/sdk"
)

// actionDelay lets a Lookup answer before its action takes effect.
const actionDelay = 20 * time.Millisecond

// exitCode is the status of a requested exit.
const exitCode = 7

// settings is the connection block crashy accepts.
type settings struct {
	// Secret is a credential; crashy never logs it unless Leak is set.
	Secret string `json:"secret"`
	// Leak makes Configure log Secret, to test the host's redaction.
	Leak bool `json:"leak"`
	// Reject makes Configure fail.
	Reject bool `json:"reject"`
}

// crashy is the connector.
type crashy struct{}

// Describe reports the connector, with its environment as description.
func (crashy) Describe() sdk.Description {
	return sdk.Description{
		Name:        "crashy",
		Version:     "0.1.0",
		Description: strings.Join(os.Environ(), "\n"),
		Config: []sdk.Attribute{
			{Name: "secret", Type: sdk.TypeString, Sensitive: true},
			{Name: "leak", Type: sdk.TypeBool},
			{Name: "reject", Type: sdk.TypeBool},
		},
	}
}

// Configure logs that it was configured.
func (crashy) Configure(_ context.Context, cfg sdk.Config, _ sdk.Host) error {
	var s settings
	if err := cfg.Decode(&s); err != nil {
		return err
	}
	if s.Reject {
		return errors.New("rejected: reject is set")
	}
	log := sdk.Logger()
	log.Info("configured", "connection", cfg.Connection, slog.Group("settings", "leak", s.Leak, "secret_set", s.Secret != ""))
	if s.Leak {
		log.Warn("leaking "+s.Secret, "token", s.Secret, slog.Group("auth", "header", "Bearer "+s.Secret))
		fmt.Fprintln(os.Stderr, "plain stderr line with", s.Secret)
	}
	fmt.Fprintln(os.Stderr, "plain stderr line")
	return nil
}

// Lookup answers "pid" and "env", and carries out the test actions.
func (crashy) Lookup(_ context.Context, req sdk.LookupRequest) (json.RawMessage, error) {
	switch req.Object {
	case "pid":
		return json.Marshal(os.Getpid())
	case "env":
		return json.Marshal(os.Environ())
	case "exit":
		later(func() { os.Exit(exitCode) })
	case "hang":
		// SIGSTOP freezes every thread: the process lives on but no RPC,
		// health checks included, is answered.
		later(func() { _ = syscall.Kill(os.Getpid(), syscall.SIGSTOP) })
	case "panic":
		later(func() { panic("crashy: asked to panic") })
	case "hostile":
		fmt.Fprintln(os.Stderr, `{"@message": 5, "@level": "error"}`)
	default:
		return nil, sdk.Permanent("unknown_object", "unknown object "+req.Object, "object")
	}
	return json.RawMessage(`true`), nil
}

// later runs f after actionDelay on its own goroutine.
func later(f func()) {
	go func() {
		time.Sleep(actionDelay)
		f()
	}()
}

func main() { sdk.Serve(crashy{}) }
