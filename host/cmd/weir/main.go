// Command weir is the Weir host daemon and its command line.
package main

import (
	"context"
	"os"

	"github.com/weirhq/weir/host/cli"
)

func main() {
	if os.Getenv("GOGC") == "" {
		go tuneGC(gcTuneInterval, os.Getenv("GOMEMLIMIT") == "")
	}
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
