package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	nssandbox "github.com/weirhq/weir/plugins/netsuite/sandbox"
	sfsandbox "github.com/weirhq/weir/plugins/salesforce/sandbox"
	sapsandbox "github.com/weirhq/weir/plugins/sap/sandbox"
)

// sandbox is a vendor sandbox: an HTTP server that behaves like the
// vendor's API, seeded with demo data.
type sandbox interface {
	http.Handler
	SeedDemo() error
}

// urlSetter is a sandbox that must know its own URL (to put it in the
// tokens it issues, as Salesforce's instance_url).
type urlSetter interface {
	SetURL(string)
}

// noErrSeed adapts a sandbox whose SeedDemo cannot fail.
type noErrSeed struct {
	http.Handler
	seed func()
}

func (n noErrSeed) SeedDemo() error { n.seed(); return nil }

// sandboxes builds each shipped vendor sandbox with its defaults.
var sandboxes = map[string]func() sandbox{
	sfsandbox.Name: func() sandbox { return sfsandbox.New(sfsandbox.Options{}) },
	nssandbox.Name: func() sandbox {
		s := nssandbox.New(nssandbox.Options{})
		return noErrSeed{s, s.SeedDemo}
	},
	sapsandbox.Name: func() sandbox {
		s := sapsandbox.New(sapsandbox.Options{})
		return noErrSeed{s, s.SeedDemo}
	},
}

func sandboxNames() []string {
	names := make([]string, 0, len(sandboxes))
	for n := range sandboxes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sandboxCmd runs vendor sandboxes standalone, for connector work.
func sandboxCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sandbox", "[-addr ADDR] [-empty] [NAME...]")
	addr := fs.String("addr", "127.0.0.1:0", "listen address; with several sandboxes, the port is that of the first and each next one takes the next port (0: any free ports)")
	empty := fs.Bool("empty", false, "start without demo data")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	names := fs.Args()
	if len(names) == 0 {
		names = sandboxNames()
	}
	host, portText, err := net.SplitHostPort(*addr)
	if err != nil {
		return usageError("-addr %q: %v", *addr, err)
	}
	var port int
	if _, err := fmt.Sscan(portText, &port); err != nil {
		return usageError("-addr %q: bad port", *addr)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var servers []*http.Server
	for i, name := range names {
		mk, ok := sandboxes[name]
		if !ok {
			return usageError("no sandbox %q; there are: %s", name, strings.Join(sandboxNames(), ", "))
		}
		sb := mk()
		p := port
		if port != 0 {
			p = port + i
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(p)))
		if err != nil {
			return fmt.Errorf("sandbox %s: %w", name, err)
		}
		url := "http://" + l.Addr().String()
		if u, ok := sb.(urlSetter); ok {
			u.SetURL(url)
		}
		if !*empty {
			if err := sb.SeedDemo(); err != nil {
				return fmt.Errorf("sandbox %s: seed: %w", name, err)
			}
		}
		srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(l)
		seeded := "demo data seeded"
		if *empty {
			seeded = "empty"
		}
		fmt.Fprintf(e.stdout, "%s sandbox at %s (%s; control API under /_sandbox/)\n", name, url, seeded)
	}
	<-ctx.Done()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(shut))
	}
	return errors.Join(errs...)
}
