package plugins

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// LockFileName is the lock file's name, next to the configuration file.
const LockFileName = "weir.lock.hcl"

// lockHeader opens every lock file Write produces.
const lockHeader = `# This file is maintained automatically by "weir plugins lock".
# Commit it: weir refuses to start a connector whose checksum differs.
`

// lockFileMode is the permission of a written lock file.
const lockFileMode = 0o644

// Names in the lock file's syntax.
const (
	lockBlockConnector = "connector"
	lockAttrVersion    = "version"
	lockAttrSHA256     = "sha256"
)

// lockSchema is the lock file's top level: connector blocks only.
var lockSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: lockBlockConnector, LabelNames: []string{"name"}}},
}

// connectorSchema is the body of a connector block.
var connectorSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: lockAttrVersion},
		{Name: lockAttrSHA256, Required: true},
	},
}

// ErrUnverified is matched (errors.Is) by every refusal of a connector
// binary: one missing from the lock file, or whose checksum differs from it.
// The CLI exits 2 on it.
var ErrUnverified = errors.New("connector binary not verified")

// Lock is the content of weir.lock.hcl: the pinned version and SHA-256 of
// every connector.
type Lock struct {
	// Path is the file the lock was read from or last written to; errors
	// name it.
	Path string
	// Connectors maps connector names to their pins.
	Connectors map[string]LockedConnector
}

// LockedConnector is one connector's pin.
type LockedConnector struct {
	Version string
	SHA256  []byte
}

// Pin records connector name's version and checksum.
func (l *Lock) Pin(name, version string, sum []byte) {
	if l.Connectors == nil {
		l.Connectors = make(map[string]LockedConnector)
	}
	l.Connectors[name] = LockedConnector{Version: version, SHA256: slices.Clone(sum)}
}

// ChecksumError refuses a connector binary that is not in the lock file
// (Pinned is nil) or whose checksum differs from the pinned one. It matches
// ErrUnverified.
type ChecksumError struct {
	Connector string
	// LockFile is the lock file named in the message.
	LockFile string
	// Binary is the executable that was checked.
	Binary string
	// Pinned is the lock file's checksum, nil when the connector is not in it.
	Pinned []byte
	// Actual is the binary's checksum, nil when it could not be read.
	Actual []byte
}

// Error implements error.
func (e *ChecksumError) Error() string {
	lock := cmp.Or(e.LockFile, LockFileName)
	if e.Pinned == nil {
		return fmt.Sprintf(`connector %q: not pinned in %s (%s has sha256 %s); run "weir plugins lock" to pin it`,
			e.Connector, lock, e.Binary, hexOrUnknown(e.Actual))
	}
	return fmt.Sprintf(`connector %q: checksum mismatch: %s pins sha256 %x, %s has %s; if you rebuilt or upgraded it on purpose, run "weir plugins lock"`,
		e.Connector, lock, e.Pinned, e.Binary, hexOrUnknown(e.Actual))
}

// Is reports whether target is ErrUnverified.
func (e *ChecksumError) Is(target error) bool { return target == ErrUnverified }

// hexOrUnknown formats a checksum, or says it is unknown.
func hexOrUnknown(sum []byte) string {
	if sum == nil {
		return "(unreadable)"
	}
	return hex.EncodeToString(sum)
}

// Checksum returns the SHA-256 of the file at path.
func Checksum(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("checksum %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// Verify checks binary, connector name's executable, against the lock and
// returns the pinned checksum. A connector missing from the lock, or whose
// binary differs, is refused with a *ChecksumError.
func (l *Lock) Verify(name, binary string) ([]byte, error) {
	actual, err := Checksum(binary)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", name, err)
	}
	pin, ok := l.Connectors[name]
	if !ok || !bytes.Equal(pin.SHA256, actual) {
		return nil, &ChecksumError{Connector: name, LockFile: l.Path, Binary: binary, Pinned: pin.SHA256, Actual: actual}
	}
	return pin.SHA256, nil
}

// ReadLock reads a lock file. Syntax and content errors are reported as
// "file:line:col: message" lines; they unwrap to hcl.Diagnostics. A missing
// file is an error matching fs.ErrNotExist.
func ReadLock(path string) (*Lock, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf(`%w; run "weir plugins lock" to create it`, err)
		}
		return nil, err
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	content, diags := f.Body.Content(lockSchema)
	lock := &Lock{Path: path, Connectors: make(map[string]LockedConnector)}
	seen := make(map[string]hcl.Range)
	for _, b := range content.Blocks {
		name := b.Labels[0]
		if first, dup := seen[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Duplicate connector",
				Detail:  fmt.Sprintf("Connector %q is already pinned at line %d.", name, first.Start.Line),
				Subject: b.LabelRanges[0].Ptr(),
			})
			continue
		}
		seen[name] = b.LabelRanges[0]
		pin, pinDiags := decodePin(b)
		diags = append(diags, pinDiags...)
		lock.Connectors[name] = pin
	}
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	return lock, nil
}

// decodePin decodes one connector block.
func decodePin(b *hcl.Block) (LockedConnector, hcl.Diagnostics) {
	var pin LockedConnector
	body, diags := b.Body.Content(connectorSchema)
	if a, ok := body.Attributes[lockAttrVersion]; ok {
		v, d := stringAttr(a)
		diags = append(diags, d...)
		pin.Version = v
	}
	if a, ok := body.Attributes[lockAttrSHA256]; ok {
		v, d := stringAttr(a)
		diags = append(diags, d...)
		if !d.HasErrors() {
			sum, err := hex.DecodeString(v)
			if err != nil || len(sum) != sha256.Size {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Invalid checksum",
					Detail:  fmt.Sprintf("sha256 must be %d hexadecimal digits.", 2*sha256.Size),
					Subject: a.Expr.Range().Ptr(),
				})
			}
			pin.SHA256 = sum
		}
	}
	return pin, diags
}

// stringAttr evaluates a literal string attribute.
func stringAttr(a *hcl.Attribute) (string, hcl.Diagnostics) {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return "", diags
	}
	if v.Type() != cty.String || v.IsNull() {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid value",
			Detail:  fmt.Sprintf("%s must be a string.", a.Name),
			Subject: a.Expr.Range().Ptr(),
		}}
	}
	return v.AsString(), nil
}

// lockDiagnostics is a lock file's errors, one "file:line:col: message" per
// line.
type lockDiagnostics struct{ diags hcl.Diagnostics }

// diagError returns the errors of diags as an error.
func diagError(diags hcl.Diagnostics) error {
	e := &lockDiagnostics{}
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			e.diags = append(e.diags, d)
		}
	}
	return e
}

// Error implements error.
func (e *lockDiagnostics) Error() string {
	lines := make([]string, 0, len(e.diags))
	for _, d := range e.diags {
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		}
		lines = append(lines, msg)
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the diagnostics.
func (e *lockDiagnostics) Unwrap() error { return e.diags }

// Write writes the lock to path atomically (a temporary file renamed over
// it), in canonical HCL form with connectors sorted by name, and sets Path.
func (l *Lock) Write(path string) error {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(lockHeader)}})
	names := make([]string, 0, len(l.Connectors))
	for name := range l.Connectors {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		pin := l.Connectors[name]
		body.AppendNewline()
		b := body.AppendNewBlock(lockBlockConnector, []string{name}).Body()
		if pin.Version != "" {
			b.SetAttributeValue(lockAttrVersion, cty.StringVal(pin.Version))
		}
		b.SetAttributeValue(lockAttrSHA256, cty.StringVal(hex.EncodeToString(pin.SHA256)))
	}
	if err := writeFileAtomic(path, hclwrite.Format(f.Bytes())); err != nil {
		return err
	}
	l.Path = path
	return nil
}

// writeFileAtomic writes data to a temporary file in path's directory, syncs
// it and renames it to path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(lockFileMode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
