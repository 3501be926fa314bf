package projection

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestQueueAgainstSortedSlice runs random inserts and removes, enough to split and drop
// blocks, and compares order and positions with a sorted slice.
func TestQueueAgainstSortedSlice(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			var q queue
			var ref []queueEntry
			cmpEntry := func(a, b queueEntry) int {
				switch {
				case a.less(b):
					return -1
				case b.less(a):
					return 1
				}
				return 0
			}
			var seq uint64
			for step := range 20000 {
				switch op := rng.IntN(10); {
				case op < 6 || len(ref) == 0:
					seq++
					e := queueEntry{ts: rng.Int64N(1000), seq: seq, id: int64(seq)}
					q.insert(e)
					i, _ := slices.BinarySearchFunc(ref, e, cmpEntry)
					ref = slices.Insert(ref, i, e)
				case op < 8:
					// Take the oldest, as start-next does.
					if !q.remove(ref[0]) {
						t.Fatalf("seed %d step %d: remove of the front %v failed", seed, step, ref[0])
					}
					ref = ref[1:]
				default:
					i := rng.IntN(len(ref))
					if !q.remove(ref[i]) {
						t.Fatalf("seed %d step %d: remove of %v failed", seed, step, ref[i])
					}
					ref = slices.Delete(ref, i, i+1)
				}
				if q.n != len(ref) {
					t.Fatalf("seed %d step %d: got length %d, want %d", seed, step, q.n, len(ref))
				}
				if step%500 == 0 {
					if got := q.all(); !slices.Equal(got, ref) {
						t.Fatalf("seed %d step %d: order differs", seed, step)
					}
					for i, e := range ref {
						if p, ok := q.position(e); !ok || p != i+1 {
							t.Fatalf("seed %d step %d: position of %v: got %d %v, want %d", seed, step, e, p, ok, i+1)
						}
					}
					if len(q.blocks) > 1+2*len(ref)/queueBlock {
						t.Fatalf("seed %d step %d: %d blocks for %d entries", seed, step, len(q.blocks), len(ref))
					}
				}
			}
			if q.remove(queueEntry{ts: -1}) {
				t.Errorf("removed an entry that was never inserted")
			}
			if _, ok := q.position(queueEntry{ts: -1}); ok {
				t.Errorf("position of an entry that was never inserted")
			}
		})
	}
}
