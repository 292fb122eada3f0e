package sdk

import (
	"context"
	"math"
	"os/exec"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/weirhq/weir/proto/connectorv1"
)

// ProtocolVersion is the plugin protocol version this SDK speaks.
const ProtocolVersion = 1

// PluginName is the name of the connector plugin in the go-plugin set.
const PluginName = "connector"

// MaxMessageBytes bounds one gRPC message either way. go-plugin's server
// default is 4 MiB, too small for a batch of 5,000 1 KB records.
const MaxMessageBytes = 256 << 20

// Handshake is shared by the host and every connector. The cookie only keeps
// a connector from being run by hand by mistake; it is not a security
// feature (checksums and mTLS are).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "WEIR_CONNECTOR_MAGIC_COOKIE",
	MagicCookieValue: "d7a1f4c2-weir-connector",
}

// connectorPlugin is the go-plugin definition of a connector: Impl is set on
// the connector side, nil on the host side.
type connectorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Connector
}

var _ plugin.GRPCPlugin = (*connectorPlugin)(nil)

// GRPCServer registers the connector's gRPC server.
func (p *connectorPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	connectorv1.RegisterConnectorServer(s, &server{impl: p.Impl, broker: broker})
	return nil
}

// GRPCClient returns the host's client for a connector.
func (p *connectorPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{rpc: connectorv1.NewConnectorClient(c), broker: broker}, nil
}

// pluginSets returns the versioned plugin sets for go-plugin.
func pluginSets(impl Connector) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &connectorPlugin{Impl: impl}},
	}
}

// ClientConfig returns the go-plugin client configuration the host uses to
// start a connector command: gRPC only, AutoMTLS, protocol v1. Callers add
// SecureConfig, a logger and the environment.
func ClientConfig(cmd *exec.Cmd) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
			grpc.WithInitialWindowSize(streamWindow), grpc.WithInitialConnWindowSize(connWindow),
		},
	}
}

// Dispense returns the connector client of a started go-plugin client.
func Dispense(c *plugin.Client) (*Client, error) {
	rpc, err := c.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return nil, err
	}
	return raw.(*Client), nil
}

// The HTTP/2 flow-control windows of host↔connector connections, both
// ways. Fixed windows turn off gRPC's bandwidth estimation, whose pings,
// and the window updates of its small starting windows, cost the connector
// as many syscalls as the calls themselves (measured on the webhook burst:
// half the reads and writes); these are as large as the estimation could
// grow them, so big messages (a 2,000-record read) flow as before.
const (
	streamWindow = 16 << 20
	connWindow   = 32 << 20
)

func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes), grpc.MaxConcurrentStreams(math.MaxUint32),
		grpc.InitialWindowSize(streamWindow), grpc.InitialConnWindowSize(connWindow))
	return grpc.NewServer(opts...)
}
