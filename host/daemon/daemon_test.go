package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/weirhq/weir/host/config"
)

func TestConnectorProcs(t *testing.T) {
	for _, tc := range []struct {
		cpus    int
		setting string
		want    int
		wantErr bool
	}{
		{cpus: 1, want: 1},
		{cpus: 2, want: 1},
		{cpus: 4, want: 1},
		{cpus: 8, want: 2},
		{cpus: 64, want: 16},
		{cpus: 2, setting: "3", want: 3},
		{cpus: 2, setting: "0", wantErr: true},
		{cpus: 2, setting: "-1", wantErr: true},
		{cpus: 2, setting: "two", wantErr: true},
	} {
		got, err := connectorProcs(tc.cpus, tc.setting)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("connectorProcs(%d, %q) = %d, %v; want %d, error %v", tc.cpus, tc.setting, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestConnectorEnv(t *testing.T) {
	t.Setenv(EnvConnectorProcs, "2")
	t.Setenv("WEIR_API_TOKEN", "not-for-connectors")
	env, err := connectorEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(env, "GOMAXPROCS=2") {
		t.Errorf("env %q lacks GOMAXPROCS=2", env)
	}
	for _, kv := range env {
		if kv == "WEIR_API_TOKEN=not-for-connectors" {
			t.Errorf("env passes on the host's %s", kv)
		}
	}
	t.Setenv(EnvConnectorProcs, "many")
	if _, err := connectorEnv(); err == nil {
		t.Errorf("%s=many: no error", EnvConnectorProcs)
	}
}

// TestCompileCarriesPipelineSettings checks that the settings of a
// configured pipeline reach the engine's form of it.
func TestCompileCarriesPipelineSettings(t *testing.T) {
	p := &config.Pipeline{
		Name:        "orders",
		Source:      config.Source{Connection: "crm", Poll: time.Minute, BatchSize: 200},
		Destination: config.Destination{Connection: "erp", Object: "salesOrder", Operation: "upsert", BatchSize: 25},
		Retry:       config.Retry{Attempts: 5, Backoff: config.BackoffConstant, BaseDelay: 2 * time.Second, MaxDelay: time.Minute},
		Workers:     8,
	}
	ep := compile(&config.Config{}, p, nil)
	if ep.BatchSize != 25 || ep.Workers != 8 || ep.Source.BatchSize != 200 || ep.Source.Poll != time.Minute {
		t.Errorf("batch %d, workers %d, source batch %d, poll %v; want 25, 8, 200, 1m", ep.BatchSize, ep.Workers, ep.Source.BatchSize, ep.Source.Poll)
	}
	if ep.Retry.Attempts != 5 || ep.Retry.MaxDelay != 2*time.Second {
		t.Errorf("retry %+v; want 5 attempts, constant 2s", ep.Retry)
	}
}
