package main

import "testing"

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, maxGCPercent},
		{4 << 20, maxGCPercent},
		{gcHeapBudget / 5, maxGCPercent},
		{gcHeapBudget / 4, 300},
		{gcHeapBudget / 2, minGCPercent},
		{gcHeapBudget, minGCPercent},
		{10 * gcHeapBudget, minGCPercent},
	} {
		if got := gcPercent(tc.live); got != tc.want {
			t.Errorf("gcPercent(%d MiB) = %d; want %d", tc.live>>20, got, tc.want)
		}
	}
}
