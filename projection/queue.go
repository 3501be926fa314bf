package projection

import (
	"slices"
	"sort"
)

// queueEntry is one waiting case in a queue, ordered by the time it last became Waiting and,
// for equal times, by the stream sequence of the event that made it Waiting (unique per case).
type queueEntry struct {
	ts  int64  // queue timestamp, Unix milliseconds
	seq uint64 // stream sequence of the event that made the case Waiting
	id  int64  // caseInstanceId
}

func (a queueEntry) less(b queueEntry) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	return a.seq < b.seq
}

// queueBlock bounds the length of one block of a queue: inserting into or deleting from a
// block moves at most this many entries, and a position sums one length per block.
const queueBlock = 512

// queue is an ordered set of waiting cases: a list of sorted blocks, each at most
// 2*queueBlock entries long, whose concatenation is sorted. Insert, remove and the
// position of an entry cost O(log n + queueBlock + n/queueBlock); reading from the front
// costs O(1) per entry. It scans no case outside itself.
type queue struct {
	blocks [][]queueEntry
	n      int
}

// search returns the block holding e, or the block where e would be inserted, and the
// index of e in it.
func (q *queue) search(e queueEntry) (bi, i int) {
	bi = sort.Search(len(q.blocks), func(j int) bool {
		b := q.blocks[j]
		return !b[len(b)-1].less(e)
	})
	if bi == len(q.blocks) {
		bi--
	}
	b := q.blocks[bi]
	i = sort.Search(len(b), func(j int) bool { return !b[j].less(e) })
	return bi, i
}

func (q *queue) insert(e queueEntry) {
	q.n++
	if len(q.blocks) == 0 {
		q.blocks = append(q.blocks, make([]queueEntry, 0, 4))
		q.blocks[0] = append(q.blocks[0], e)
		return
	}
	bi, i := q.search(e)
	b := q.blocks[bi]
	b = slices.Insert(b, i, e)
	q.blocks[bi] = b
	if len(b) > 2*queueBlock {
		half := make([]queueEntry, len(b)-queueBlock, 2*queueBlock)
		copy(half, b[queueBlock:])
		q.blocks[bi] = b[:queueBlock]
		q.blocks = slices.Insert(q.blocks, bi+1, half)
	}
}

// remove deletes e and reports whether it was there.
func (q *queue) remove(e queueEntry) bool {
	if q.n == 0 {
		return false
	}
	bi, i := q.search(e)
	b := q.blocks[bi]
	if i == len(b) || b[i] != e {
		return false
	}
	q.n--
	if len(b) == 1 {
		q.blocks = slices.Delete(q.blocks, bi, bi+1)
		return true
	}
	if i == 0 {
		// Deleting from the front is the common case (start-next takes the oldest): reslice.
		b = b[1:]
	} else {
		b = slices.Delete(b, i, i+1)
	}
	q.blocks[bi] = b
	// Merge a small block into its successor, so that the blocks stay few.
	if len(b) < queueBlock/4 && bi+1 < len(q.blocks) && len(b)+len(q.blocks[bi+1]) <= queueBlock {
		q.blocks[bi+1] = append(slices.Clip(b), q.blocks[bi+1]...)
		q.blocks = slices.Delete(q.blocks, bi, bi+1)
	}
	return true
}

// position returns the 1-based position of e.
func (q *queue) position(e queueEntry) (int, bool) {
	if q.n == 0 {
		return 0, false
	}
	bi, i := q.search(e)
	b := q.blocks[bi]
	if i == len(b) || b[i] != e {
		return 0, false
	}
	pos := i + 1
	for _, pb := range q.blocks[:bi] {
		pos += len(pb)
	}
	return pos, true
}

// cursor walks a queue from its front.
type cursor struct {
	q     *queue
	bi, i int
}

func (c *cursor) peek() (queueEntry, bool) {
	if c.q == nil || c.bi >= len(c.q.blocks) {
		return queueEntry{}, false
	}
	return c.q.blocks[c.bi][c.i], true
}

func (c *cursor) next() {
	c.i++
	if c.i == len(c.q.blocks[c.bi]) {
		c.bi, c.i = c.bi+1, 0
	}
}

// all returns every entry in order.
func (q *queue) all() []queueEntry {
	out := make([]queueEntry, 0, q.n)
	for _, b := range q.blocks {
		out = append(out, b...)
	}
	return out
}
