// Command weir-connector-jsonl is the JSON-lines connector: it reads records
// from the *.jsonl files of a folder, writes records into one file per
// object, answers lookups by key and decodes JSON webhooks.
//
// It is also the worked example for connector authors: everything it does
// goes through the SDK (github.com/weirhq/weir/sdk), and docs/connectors.md
// walks through this code.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/weirhq/weir/sdk"
)

func main() {
	sdk.Serve(&connector{})
}

// connector is the jsonl connector. One process serves one connection, so
// its state is the connection's folder and the index of each destination
// file it has opened.
type connector struct {
	mu     sync.Mutex
	dir    string            // absolute path of the connection's folder
	tables map[string]*table // destination files by object name

	sources settingsCache // parsed source settings
}

// Every capability the connector has, checked at compile time.
var (
	_ sdk.Configurer     = (*connector)(nil)
	_ sdk.Checker        = (*connector)(nil)
	_ sdk.Source         = (*connector)(nil)
	_ sdk.Destination    = (*connector)(nil)
	_ sdk.Looker         = (*connector)(nil)
	_ sdk.WebhookDecoder = (*connector)(nil)
)

// Describe tells the host what the connector is. It does no I/O.
func (c *connector) Describe() sdk.Description {
	return sdk.Description{
		Name:        "jsonl",
		Version:     "0.1.0",
		Description: "JSON-lines files in a folder: a source, a destination, lookups and webhooks.",
		// Files on the host: no vendor, so no requests to limit.
		Local: true,
		Config: []sdk.Attribute{
			{Name: "path", Type: sdk.TypeString, Required: true, Description: "The folder holding the .jsonl files."},
		},
		SourceConfig: []sdk.Attribute{
			{Name: "pattern", Type: sdk.TypeString, Default: json.RawMessage(`"*.jsonl"`), Description: "Glob of the files to read in the folder, read in name order."},
			{Name: "key_field", Type: sdk.TypeString, Default: json.RawMessage(`"id"`), Description: "Top-level field holding each record's key (a string or a number)."},
			{Name: "version_field", Type: sdk.TypeString, Description: "Top-level field holding each record's version: an integer or an RFC 3339 time. Without it, the version is the line's position in the stream."},
			{Name: "object", Type: sdk.TypeString, Default: json.RawMessage(`"record"`), Description: "Object name given to the records read."},
		},
		// Object names are file names, unknown in advance: one object,
		// sdk.AnyObject ("*"), stands for every name.
		Objects: []sdk.Object{{
			Name:        sdk.AnyObject,
			Description: `Any name: object "orders" is the file orders.jsonl in the folder, one {"key","version","record"} line per key.`,
			Readable:    true,
			Writable:    true,
			Lookup:      true,
			Operations:  []string{"upsert"},
		}},
	}
}

// config is the connection block.
type config struct {
	Path string `json:"path"`
}

// Configure remembers the connection's folder, creating it when missing
// (a destination's first run).
func (c *connector) Configure(_ context.Context, cfg sdk.Config, _ sdk.Host) error {
	var conf config
	if err := cfg.Decode(&conf); err != nil {
		return err
	}
	if conf.Path == "" {
		return errors.New(`"path" is required: the folder holding the .jsonl files`)
	}
	dir, err := filepath.Abs(conf.Path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	c.mu.Lock()
	c.dir, c.tables = dir, map[string]*table{}
	c.mu.Unlock()
	sdk.Logger().Info("configured", "connection", cfg.Connection, "path", dir)
	return nil
}

// Check reports whether the folder is still there.
func (c *connector) Check(context.Context) error {
	dir, err := c.folder()
	if err != nil {
		return err
	}
	return isDir(dir)
}

// folder returns the connection's folder once Configure has set it.
func (c *connector) folder() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == "" {
		return "", errors.New("the connector is not configured")
	}
	return c.dir, nil
}

func isDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("path: %s is not a folder", dir)
	}
	return nil
}
