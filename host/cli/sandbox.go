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

	sapsandbox "github.com/weirhq/weir/plugins/sap/sandbox"
)

// sandbox is a vendor sandbox: an HTTP server that behaves like the
// vendor's API, seeded with demo data.
type sandbox interface {
	http.Handler
	SeedDemo()
}

// sandboxes builds each shipped vendor sandbox with its defaults.
var sandboxes = map[string]func() sandbox{
	sapsandbox.Name: func() sandbox { return sapsandbox.New(sapsandbox.Options{}) },
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
		if !*empty {
			sb.SeedDemo()
		}
		p := port
		if port != 0 {
			p = port + i
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(p)))
		if err != nil {
			return fmt.Errorf("sandbox %s: %w", name, err)
		}
		srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(l)
		seeded := "demo data seeded"
		if *empty {
			seeded = "empty"
		}
		fmt.Fprintf(e.stdout, "%s sandbox at http://%s (%s; control API under /_sandbox/)\n", name, l.Addr(), seeded)
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
