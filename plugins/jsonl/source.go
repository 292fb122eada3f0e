package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/weirhq/weir/sdk"
)

// defaultBatch is the batch size when the host does not set MaxRecords.
const defaultBatch = 1000

// readBuffer is the size of the buffer a source file is read through.
const readBuffer = 64 << 10

// cursor is where a source stopped: after Offset bytes, which hold Line
// lines, of File, having consumed Seq lines from the start of the stream.
// The host stores it as opaque bytes and hands it back to Read.
type cursor struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line"`
	Seq    int64  `json:"seq"`
}

// Read returns the records of the lines after the cursor: the files that
// match the pattern, in name order, one JSON object per line.
//
//   - A line is consumed only once its "\n" is written: the unterminated
//     last line of the newest file is left for a later Read. The
//     unterminated last line of an older file is read as it is, since its
//     writer has moved on.
//   - Files named before the cursor's file are never read: write new files
//     with names that sort after the old ones (e.g. dated names).
//   - Without version_field, a record's version is its line's position in
//     the stream: the count of lines consumed since the first file (blank
//     lines included), kept in the cursor. It grows as the files are read.
//   - A line that is not a valid record becomes a record keyed
//     "<file>:<line>" with metadata "weir.error", for the host to
//     dead-letter; the source does not stop on it.
func (c *connector) Read(ctx context.Context, req sdk.ReadRequest) (sdk.ReadResult, error) {
	s, err := c.sources.get(req.Source)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	var cur cursor
	if len(req.Cursor) > 0 {
		if err := json.Unmarshal(req.Cursor, &cur); err != nil {
			return sdk.ReadResult{}, sdk.Permanent("INVALID_CURSOR", "cursor is not one of this connector's: "+err.Error(), "")
		}
	}
	limit := req.MaxRecords
	if limit <= 0 {
		limit = defaultBatch
	}
	names, err := c.sourceFiles(s.Pattern, cur.File)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	var res sdk.ReadResult
	var payloads arena
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return sdk.ReadResult{}, err
		}
		if name != cur.File {
			cur = cursor{File: name, Seq: cur.Seq}
		}
		full, err := c.readFile(&cur, s, i == len(names)-1, limit, &res.Records, &payloads)
		if err != nil {
			return sdk.ReadResult{}, err
		}
		if full {
			res.More = true
			break
		}
	}
	res.Cursor, err = json.Marshal(cur)
	return res, err
}

// sourceFiles lists the regular files of the folder that match pattern and
// do not sort before from, in name order.
func (c *connector) sourceFiles(pattern, from string) ([]string, error) {
	dir, err := c.folder()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if ok, _ := filepath.Match(pattern, e.Name()); ok && e.Type().IsRegular() && e.Name() >= from {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// readFile appends the records of cur.File after cur to out until out holds
// limit records, moving cur past every line it consumes. It reports whether it
// stopped for lack of room with a line left to read. The payloads are
// copied into a.
func (c *connector) readFile(cur *cursor, s settings, newest bool, limit int, out *[]sdk.Record, a *arena) (full bool, err error) {
	dir, err := c.folder()
	if err != nil {
		return false, err
	}
	f, err := os.Open(filepath.Join(dir, cur.File))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // removed since it was listed
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if _, err := f.Seek(cur.Offset, io.SeekStart); err != nil {
		return false, err
	}
	r := bufio.NewReaderSize(f, readBuffer)
	var long []byte // a line longer than r's buffer
	for {
		// line is valid until the next read: nothing kept refers to it.
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if err != nil && (len(line) == 0 || newest) {
			return false, nil // the end, or a last line still being written
		}
		text := trim(line)
		if len(text) > 0 && len(*out) == limit {
			return true, nil
		}
		cur.Offset += int64(len(line))
		cur.Line++
		cur.Seq++
		if len(text) > 0 {
			*out = append(*out, s.sourceRecord(*cur, text, a))
		}
	}
}

// sourceRecord is the record of the line just consumed at cur, its payload
// copied into a.
func (s settings) sourceRecord(cur cursor, text []byte, a *arena) sdk.Record {
	rec, hasVersion, p := s.parse(text, a)
	if p != nil {
		return errorRecord(fmt.Sprintf("%s:%d", cur.File, cur.Line), cur.Seq, s.Object, text, p)
	}
	if !hasVersion {
		rec.Version = cur.Seq
	}
	return rec
}
