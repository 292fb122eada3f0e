package bolt

import (
	"encoding/binary"
	"testing"
)

// TestKeyStateCodec checks that key states round-trip, and that a state
// written before deliveredAt was kept still decodes (as delivered at 0).
func TestKeyStateCodec(t *testing.T) {
	for _, k := range []keyState{
		{},
		{cur: 7, curVer: 3, delivered: 2, deliveredAt: 1_700_000_000_000_000_000},
		{cur: 9, curVer: 5, pend: 10, pendVer: 6, delivered: 4, deliveredAt: 1},
	} {
		var got keyState
		if err := decodeKeyState(k.encode(nil), &got); err != nil || got != k {
			t.Errorf("round trip of %+v = %+v, %v", k, got, err)
		}
	}
	old := []byte{formatV1}
	for _, v := range []int64{0, 0, 0, 0, 42} { // cur, curVer, pend, pendVer, delivered
		old = binary.AppendVarint(old, v)
	}
	var got keyState
	if err := decodeKeyState(old, &got); err != nil || got != (keyState{delivered: 42}) {
		t.Errorf("a state without deliveredAt = %+v, %v", got, err)
	}
	if err := decodeKeyState(append(old, 2, 3), &got); err == nil {
		t.Error("trailing bytes after deliveredAt decoded without an error")
	}
}
