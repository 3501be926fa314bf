// Package pipeline runs the work on a stream of items beside the reading of it and the
// handling of its results, keeping their order: the log's readers decode events this way,
// where decoding costs as much as delivery.
package pipeline

import (
	"context"
	"sync"
)

// Ordered reads items with next until it returns ok false or an error, runs work on each in
// workers goroutines beside the reading, and calls fn on the caller's goroutine with each
// result, in the order next returned the items. At most depth items are read ahead of fn.
//
// It returns fn's first error, at which the reading and the work stop; else next's error
// (the reading stops when ctx ends: next is given a context that ends then, or when fn
// fails); else nil, once every item read has reached fn.
func Ordered[In, Out any](ctx context.Context, workers, depth int, next func(ctx context.Context) (In, bool, error), work func(In) Out, fn func(Out) error) error {
	type item struct {
		out  Out
		done chan struct{} // closed once out is set
	}
	type job struct {
		in In
		it *item
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel below has stopped the reader, which stops the workers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job, depth)
	order := make(chan *item, depth)
	var readErr error // set by the reader before it closes order
	for range max(workers, 1) {
		wg.Go(func() {
			for j := range jobs {
				j.it.out = work(j.in)
				close(j.it.done)
			}
		})
	}
	wg.Go(func() {
		defer close(order)
		defer close(jobs)
		for {
			in, ok, err := next(ctx)
			if err != nil {
				readErr = err
				return
			}
			if !ok {
				return
			}
			it := &item{done: make(chan struct{})}
			select {
			case jobs <- job{in, it}:
			case <-ctx.Done():
				readErr = ctx.Err()
				return
			}
			select {
			case order <- it:
			case <-ctx.Done():
				readErr = ctx.Err()
				return
			}
		}
	})
	for it := range order {
		<-it.done
		if err := fn(it.out); err != nil {
			return err
		}
	}
	return readErr
}
