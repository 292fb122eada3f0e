package daemon

import (
	"slices"
	"testing"
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
