package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/weirhq/weir/proto/connectorv1"
	"github.com/weirhq/weir/sdk"
)

// The hidden first arguments with which weirbench re-executes itself as
// the null connector (through go-plugin) or as a plain gRPC server.
const (
	nullPluginArg = "-weirbench-null-connector"
	nullGRPCArg   = "-weirbench-null-grpc"
)

// pluginReps and pluginSpan: each side is measured pluginReps times for
// pluginSpan, alternately, with batches of pluginBatch 1 KB records.
const (
	pluginReps  = 3
	pluginSpan  = 700 * time.Millisecond
	pluginBatch = 100
)

// nullConnector is a destination that acknowledges every record without
// I/O.
type nullConnector struct{}

// Describe names the connector.
func (nullConnector) Describe() sdk.Description {
	return sdk.Description{
		Name: "null", Version: "0.0.0", Description: "Acknowledges every record (weirbench).",
		Objects: []sdk.Object{{Name: sdk.AnyObject, Writable: true, Operations: []string{"upsert"}}},
	}
}

// Write acknowledges every record.
func (nullConnector) Write(_ context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	out := make([]sdk.WriteResult, len(req.Records))
	for i, r := range req.Records {
		out[i] = sdk.WriteResult{Key: r.Key, Status: sdk.StatusOK}
	}
	return out, nil
}

// servePlugin runs the null connector as a go-plugin plugin.
func servePlugin() { sdk.Serve(nullConnector{}) }

// nullServer is the null connector as a plain gRPC service.
type nullServer struct {
	pb.UnimplementedConnectorServer
}

// Write acknowledges every record.
func (nullServer) Write(_ context.Context, req *pb.WriteRequest) (*pb.WriteResponse, error) {
	out := make([]*pb.WriteResult, len(req.GetRecords()))
	for i, r := range req.GetRecords() {
		out[i] = &pb.WriteResult{Key: r.GetKey(), Status: pb.ResultStatus_RESULT_STATUS_OK}
	}
	return &pb.WriteResponse{Results: out}, nil
}

// serveGRPC serves nullServer on a unix socket, without TLS, and says
// "ready" on stdout once it listens.
func serveGRPC(socket string) {
	l, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer(grpc.MaxRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxSendMsgSize(sdk.MaxMessageBytes), grpc.MaxConcurrentStreams(math.MaxUint32))
	pb.RegisterConnectorServer(s, nullServer{})
	fmt.Println("ready")
	s.Serve(l)
}

// pluginOverhead measures sequential Write calls of 100 1 KB records to the
// null connector through go-plugin with AutoMTLS, as the host makes them,
// against the same RPC over plain gRPC on a unix socket. Both servers are a
// separate process.
func pluginOverhead() row {
	ctx := context.Background()
	exe, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	recs := make([]sdk.Record, pluginBatch)
	pbRecs := make([]*pb.Record, pluginBatch)
	for i := range recs {
		recs[i] = sdk.Record{Key: fmt.Sprintf("p%03d", i), Version: 1, Object: "orders", Payload: order(i)}
		pbRecs[i] = &pb.Record{Key: recs[i].Key, Version: 1, Object: "orders", Payload: recs[i].Payload}
	}

	// go-plugin, configured as the host configures it.
	cmd := exec.Command(exe, nullPluginArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cc := sdk.ClientConfig(cmd)
	cc.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})
	started := time.Now()
	pc := plugin.NewClient(cc)
	atExit(pc.Kill)
	client, err := sdk.Dispense(pc)
	if err != nil {
		fatal(fmt.Errorf("null connector: %w", err))
	}
	note("plugin: null connector started (exec + handshake + dispense) in %v", time.Since(started).Round(100*time.Microsecond))
	viaPlugin := func() error {
		res, err := client.Write(ctx, sdk.WriteRequest{Object: "orders", Records: recs})
		if err == nil && len(res) != len(recs) {
			err = fmt.Errorf("null connector: %d results for %d records", len(res), len(recs))
		}
		return err
	}

	// Plain gRPC on a unix socket.
	dir, err := os.MkdirTemp("", "weirbench-grpc-")
	if err != nil {
		fatal(err)
	}
	atExit(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "null.sock")
	srv := exec.Command(exe, nullGRPCArg, socket)
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	srv.Stderr = os.Stderr
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		fatal(err)
	}
	atExit(func() { srv.Process.Kill(); srv.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		fatal(fmt.Errorf("plain gRPC server did not start"))
	}
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes)))
	if err != nil {
		fatal(err)
	}
	defer conn.Close()
	raw := pb.NewConnectorClient(conn)
	plain := func() error {
		res, err := raw.Write(ctx, &pb.WriteRequest{Object: "orders", Records: pbRecs})
		if err == nil && len(res.GetResults()) != len(pbRecs) {
			err = fmt.Errorf("plain server: %d results for %d records", len(res.GetResults()), len(pbRecs))
		}
		return err
	}

	for range 200 { // warm up both
		if err := viaPlugin(); err != nil {
			fatal(err)
		}
		if err := plain(); err != nil {
			fatal(err)
		}
	}
	var weir, ref float64
	for range pluginReps {
		weir = max(weir, callsPerSecond(viaPlugin))
		ref = max(ref, callsPerSecond(plain))
	}
	return row{
		figure:    fmt.Sprintf("connector call: Write of %d × 1 KB, go-plugin + AutoMTLS [best of %d]", pluginBatch, pluginReps),
		weir:      fmt.Sprintf("%.0f µs/call (%.0fk rec/s)", 1e6/weir, weir*pluginBatch/1e3),
		reference: fmt.Sprintf("%.0f µs/call (%.0fk rec/s) plain gRPC, unix socket", 1e6/ref, ref*pluginBatch/1e3),
		ratio:     fmt.Sprintf("%.2f× the time", ref/weir),
		target:    "≤ 2× plain gRPC",
	}
}

// callsPerSecond calls f sequentially for pluginSpan.
func callsPerSecond(f func() error) float64 {
	n := 0
	start := time.Now()
	for time.Since(start) < pluginSpan {
		if err := f(); err != nil {
			fatal(err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}
