package plugins

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Two checksums in hexadecimal.
const (
	sumA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sumB = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"
)

func TestLockWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFileName)
	lock := &Lock{}
	lock.Pin("salesforce", "1.2.0", mustHex(t, sumB))
	lock.Pin("jsonl", "0.1.0", mustHex(t, sumA))
	lock.Pin("dev", "", mustHex(t, sumA))
	if err := lock.Write(path); err != nil {
		t.Fatal(err)
	}
	if lock.Path != path {
		t.Errorf("Path = %q after Write", lock.Path)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `# This file is maintained automatically by "weir plugins lock".
# Commit it: weir refuses to start a connector whose checksum differs.

connector "dev" {
  sha256 = "` + sumA + `"
}

connector "jsonl" {
  version = "0.1.0"
  sha256  = "` + sumA + `"
}

connector "salesforce" {
  version = "1.2.0"
  sha256  = "` + sumB + `"
}
`
	if string(got) != want {
		t.Errorf("lock file:\n%s\nwant:\n%s", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != lockFileMode {
		t.Errorf("mode %v, %v; want %v", fi.Mode().Perm(), err, os.FileMode(lockFileMode))
	}

	back, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Path != path || len(back.Connectors) != 3 {
		t.Fatalf("ReadLock = %+v", back)
	}
	for name, pin := range lock.Connectors {
		if b := back.Connectors[name]; b.Version != pin.Version || !bytes.Equal(b.SHA256, pin.SHA256) {
			t.Errorf("%s: read %+v, wrote %+v", name, b, pin)
		}
	}
}

func TestReadLockErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // after "<file>:"
	}{
		{"syntax", "connector \"a\" {\n  sha256 = \n}\n", `2:12: Invalid expression`},
		{"bad checksum", "connector \"a\" {\n  sha256 = \"abc\"\n}\n", `2:12: Invalid checksum: sha256 must be 64 hexadecimal digits.`},
		{"number version", "connector \"a\" {\n  version = 1\n  sha256 = \"" + sumA + "\"\n}\n", `2:13: Invalid value: version must be a string.`},
		{"missing checksum", "connector \"a\" {\n  version = \"1\"\n}\n", `1:15: Missing required argument`},
		{"unknown argument", "connector \"a\" {\n  sha256 = \"" + sumA + "\"\n  sha1 = \"x\"\n}\n", `3:3: Unsupported argument`},
		{"unknown block", "provider \"a\" {\n}\n", `1:1: Unsupported block type`},
		{"duplicate", "connector \"a\" {\n  sha256 = \"" + sumA + "\"\n}\nconnector \"a\" {\n  sha256 = \"" + sumB + "\"\n}\n", `4:11: Duplicate connector: Connector "a" is already pinned at line 1.`},
		{"variable", "connector \"a\" {\n  sha256 = var.x\n}\n", `2:12: Variables not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LockFileName)
			if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadLock(path)
			if err == nil || !strings.HasPrefix(err.Error(), path+":"+tt.want) {
				t.Fatalf("ReadLock error:\n%v\nwant prefix:\n%s:%s", err, path, tt.want)
			}
			var diags hcl.Diagnostics
			if !errors.As(err, &diags) || len(diags) == 0 {
				t.Errorf("error does not unwrap to hcl.Diagnostics")
			}
		})
	}
}

func TestReadLockMissing(t *testing.T) {
	_, err := ReadLock(filepath.Join(t.TempDir(), LockFileName))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `run "weir plugins lock"`) {
		t.Errorf("ReadLock of a missing file: %v", err)
	}
}

func TestLockVerify(t *testing.T) {
	bin := filepath.Join(t.TempDir(), BinaryName("x"))
	if err := os.WriteFile(bin, []byte("test"), 0o755); err != nil {
		t.Fatal(err)
	}
	actual, err := Checksum(bin)
	if err != nil {
		t.Fatal(err)
	}
	if got := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; !bytes.Equal(actual, mustHex(t, got)) {
		t.Fatalf("Checksum = %x", actual)
	}
	lock := &Lock{Path: "conf/" + LockFileName}
	lock.Pin("x", "1", actual)
	lock.Pin("y", "1", mustHex(t, sumB))
	if sum, err := lock.Verify("x", bin); err != nil || !bytes.Equal(sum, actual) {
		t.Errorf("Verify(x) = %x, %v", sum, err)
	}
	_, err = lock.Verify("y", bin)
	want := `connector "y": checksum mismatch: conf/weir.lock.hcl pins sha256 ` + sumB + `, ` + bin + ` has ` + sumA +
		`; if you rebuilt or upgraded it on purpose, run "weir plugins lock"`
	if !errors.Is(err, ErrUnverified) || err.Error() != want {
		t.Errorf("Verify(y):\n%v\nwant\n%s", err, want)
	}
	_, err = lock.Verify("z", bin)
	want = `connector "z": not pinned in conf/weir.lock.hcl (` + bin + ` has sha256 ` + sumA + `); run "weir plugins lock" to pin it`
	if !errors.Is(err, ErrUnverified) || err.Error() != want {
		t.Errorf("Verify(z):\n%v\nwant\n%s", err, want)
	}
	if _, err := lock.Verify("x", bin+".missing"); err == nil || errors.Is(err, ErrUnverified) {
		t.Errorf("Verify of a missing binary: %v", err)
	}
}

// mustHex decodes a hexadecimal checksum.
func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"flag", "env", "conf/bin", "empty", "noexec"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(dir, name string, mode os.FileMode) string {
		p := filepath.Join(dirs[dir], BinaryName(name))
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inFlag := write("flag", "both", 0o755)
	write("env", "both", 0o755)
	inEnv := write("env", "envonly", 0o755)
	inConf := write("conf/bin", "conf", 0o755)
	noExec := write("noexec", "conf", 0o644)
	t.Setenv(PluginDirEnv, dirs["empty"]+string(os.PathListSeparator)+dirs["env"])

	search := SearchDirs(filepath.Join(root, "conf"), dirs["noexec"], dirs["flag"], "", dirs["flag"])
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	wantDirs := []string{dirs["noexec"], dirs["flag"], dirs["empty"], dirs["env"], dirs["conf/bin"], filepath.Dir(exe)}
	if len(search) != len(wantDirs) {
		t.Fatalf("SearchDirs = %q, want %q", search, wantDirs)
	}
	for i, d := range wantDirs {
		if search[i] != d {
			t.Errorf("SearchDirs[%d] = %q, want %q", i, search[i], d)
		}
	}

	tests := []struct {
		name    string
		want    string
		wantErr []string
	}{
		{"both", inFlag, nil},
		{"envonly", inEnv, nil},
		{"conf", inConf, nil},
		{"missing", "", []string{`connector "missing": no executable weir-connector-missing in ` + strings.Join(search, ", "), `run "make build"`}},
		{"../conf", "", []string{"invalid name"}},
	}
	for _, tt := range tests {
		got, err := Find(tt.name, search)
		if got != tt.want {
			t.Errorf("Find(%q) = %q, want %q", tt.name, got, tt.want)
		}
		for _, w := range tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Find(%q) error %v lacks %q", tt.name, err, w)
			}
		}
		if tt.wantErr == nil && err != nil {
			t.Errorf("Find(%q): %v", tt.name, err)
		}
	}

	// A file of the right name that cannot run is reported, not used.
	_, err := Find("conf", []string{dirs["noexec"]})
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), noExec+" is not executable") {
		t.Errorf("Find of a non-executable file: %v", err)
	}
}
