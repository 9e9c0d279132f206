package episode

import "context"

// Result is one value produced by [Prefetch], or the error that ended it.
type Result[T any] struct {
	Value T
	Err   error
}

// Prefetch calls next repeatedly in a new goroutine and delivers the
// results on a channel buffered for buffer values, so that producing the
// next values (sampling, assembling tensors) overlaps with the consumer's
// work. It stops after next returns an error (which is delivered) or when
// ctx is cancelled, and then closes the channel. The goroutine exits
// promptly on cancellation even if nobody reads, so cancelling ctx is all a
// consumer that stops early must do. next is only ever called from that one
// goroutine.
func Prefetch[T any](ctx context.Context, buffer int, next func() (T, error)) <-chan Result[T] {
	ch := make(chan Result[T], max(buffer, 0))
	go func() {
		defer close(ch)
		for ctx.Err() == nil {
			v, err := next()
			select {
			case ch <- Result[T]{Value: v, Err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// Stream draws tasks shaped by cfg in the background, buffer ahead, as
// [Prefetch] does. The sampler must not be used elsewhere until ctx is
// cancelled and the channel is closed.
func (s *Sampler) Stream(ctx context.Context, cfg Config, buffer int) <-chan Result[*Task] {
	return Prefetch(ctx, buffer, func() (*Task, error) { return s.Task(cfg) })
}
