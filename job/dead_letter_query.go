package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetterQuery selects dead letters by queue, kind, reason and error
// text, page by page. The queue is part of a dead letter's subject, so the
// server selects by it; kind, reason and error are headers, which the
// client reads (headers only, never payloads) to select by them.
type DeadLetterQuery struct {
	// Queue, Kind and Reason select exactly; empty means any.
	Queue  string
	Kind   string
	Reason Reason
	// ErrorContains selects dead letters whose error contains it
	// (case-insensitive); empty means any.
	ErrorContains string
	// After lists the dead letters above this sequence (a page's Next);
	// zero starts at the oldest.
	After uint64
	// Newest lists the newest first, below the sequence Before (a newest
	// page's Next; zero: from the newest). It applies without Kind, Reason
	// and ErrorContains only: a filter on headers is read oldest first.
	Newest bool
	Before uint64
	// Through ignores dead letters above this sequence: pass a mark read
	// with DeadLetterSequence to act only on those that existed then. Zero
	// means no bound.
	Through uint64
	// Limit is the page size; default 50, at most 500.
	Limit int
	// ScanLimit bounds the headers one page reads when Kind, Reason or
	// ErrorContains select; default 2,500. A page that reaches it ends
	// early, with Next set, so that no request reads a whole stream.
	ScanLimit int
}

// headerFiltered reports whether q selects by headers.
func (q DeadLetterQuery) headerFiltered() bool {
	return q.Kind != "" || q.Reason != "" || q.ErrorContains != ""
}

// matches reports whether a dead letter with headers h matches q's header
// filters.
func (q DeadLetterQuery) matches(prefix string, h nats.Header) bool {
	if q.Reason != "" && Reason(h.Get(HeaderReason)) != q.Reason {
		return false
	}
	if q.Kind != "" {
		if _, kind, _ := ParseSubject(prefix, h.Get(HeaderSubject)); kind != q.Kind {
			return false
		}
	}
	if q.ErrorContains != "" && !strings.Contains(strings.ToLower(h.Get(HeaderError)), strings.ToLower(q.ErrorContains)) {
		return false
	}
	return true
}

// DeadLetterPage is one page of dead letters. Next is the cursor of the
// following page (DeadLetterQuery.After); zero when the query has no more.
// Scanned counts the dead letters whose headers the page read.
type DeadLetterPage struct {
	DeadLetters []DeadLetter
	Next        uint64
	Scanned     int
}

// QueryDeadLetters returns one page of the dead letters q selects, oldest
// first.
//
// Errors: ErrInvalidName for an invalid queue, or the connection's error.
func (c *Client) QueryDeadLetters(ctx context.Context, q DeadLetterQuery) (DeadLetterPage, error) {
	limit := JobFilter{Limit: q.Limit}.limit()
	scanLimit := q.ScanLimit
	if scanLimit <= 0 {
		scanLimit = 2500
	}
	var page DeadLetterPage
	if !q.headerFiltered() {
		if q.Newest {
			return c.newestDeadLetters(ctx, q, limit)
		}
		return c.deadLetterPage(ctx, q, limit)
	}
	var seqs []uint64
	last, more, scanned, err := c.scanDeadLetters(ctx, q, scanLimit, func(seq uint64, h nats.Header) bool {
		seqs = append(seqs, seq)
		return len(seqs) < limit
	})
	if err != nil {
		return page, err
	}
	page.Scanned = scanned
	s, err := c.deadLetterStream(ctx)
	if err != nil {
		return page, err
	}
	for _, seq := range seqs {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // replayed or deleted meanwhile
		}
		if err != nil {
			return page, fmt.Errorf("jetjobs: read dead letter %d: %w", seq, err)
		}
		page.DeadLetters = append(page.DeadLetters, c.topo.deadLetterFromRaw(m))
	}
	if more {
		page.Next = last
	}
	return page, nil
}

// deadLetterPage reads a page of the dead letters of q.Queue by sequence,
// without a consumer: each read returns the next one of the queue.
func (c *Client) deadLetterPage(ctx context.Context, q DeadLetterQuery, limit int) (DeadLetterPage, error) {
	var page DeadLetterPage
	subject, err := c.deadLetterSubject(q.Queue)
	if err != nil {
		return page, err
	}
	s, err := c.deadLetterStream(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return page, nil
	}
	if err != nil {
		return page, err
	}
	seq := q.After
	for {
		m, err := s.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return page, nil
		}
		if err != nil {
			return page, fmt.Errorf("jetjobs: read dead letters: %w", err)
		}
		if q.Through > 0 && m.Sequence > q.Through {
			return page, nil
		}
		if len(page.DeadLetters) == limit {
			page.Next = seq
			return page, nil
		}
		page.DeadLetters = append(page.DeadLetters, c.topo.deadLetterFromRaw(m))
		seq = m.Sequence
	}
}

// newestDeadLetters reads a page of the dead letters of q.Queue below
// q.Before (and at most q.Through), newest first. Next is the sequence to
// pass as Before for the following page.
func (c *Client) newestDeadLetters(ctx context.Context, q DeadLetterQuery, limit int) (DeadLetterPage, error) {
	var page DeadLetterPage
	subject, err := c.deadLetterSubject(q.Queue)
	if err != nil {
		return page, err
	}
	s, err := c.deadLetterStream(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return page, nil
	}
	if err != nil {
		return page, err
	}
	top := q.Through
	if q.Before > 0 {
		if q.Before == 1 {
			return page, nil
		}
		if top == 0 || q.Before-1 < top {
			top = q.Before - 1
		}
	}
	// One more than the page tells whether there is a next one.
	msgs, err := newestMsgs(ctx, s, subject, 0, top, limit+1)
	if err != nil {
		return page, err
	}
	if len(msgs) > limit {
		msgs = msgs[1:]
		page.Next = msgs[0].Sequence
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		page.DeadLetters = append(page.DeadLetters, c.topo.deadLetterFromRaw(msgs[i]))
	}
	return page, nil
}

// CountDeadLetters returns how many dead letters q selects (q.After and
// q.Limit aside). Without Kind, Reason and ErrorContains the server counts
// them; with them, the client reads the headers of the queue's dead
// letters up to q.Through, a read that grows with their number (about
// a second per few hundred thousand).
func (c *Client) CountDeadLetters(ctx context.Context, q DeadLetterQuery) (uint64, error) {
	q.After = 0
	if !q.headerFiltered() {
		subject, err := c.deadLetterSubject(q.Queue)
		if err != nil {
			return 0, err
		}
		s, err := c.deadLetterStream(ctx)
		if err != nil {
			return 0, err
		}
		all, err := c.pendingFrom(ctx, s, subject, 1)
		if err != nil || q.Through == 0 {
			return all, err
		}
		above, err := c.pendingFrom(ctx, s, subject, q.Through+1)
		if err != nil {
			return 0, err
		}
		return all - min(all, above), nil
	}
	var n uint64
	_, _, _, err := c.scanDeadLetters(ctx, q, 0, func(uint64, nats.Header) bool {
		n++
		return true
	})
	return n, err
}

// pendingFrom counts the messages of s on subject from sequence from on,
// by the pending count of an ephemeral consumer.
func (c *Client) pendingFrom(ctx context.Context, s jetstream.Stream, subject string, from uint64) (uint64, error) {
	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: time.Minute,
		Replicas:          1,
		MemoryStorage:     true,
	})
	if err != nil {
		return 0, fmt.Errorf("jetjobs: count dead letters: %w", err)
	}
	info := cons.CachedInfo()
	_ = s.DeleteConsumer(ctx, info.Name)
	return info.NumPending, nil
}

// scanDeadLetters calls fn with the sequence and headers of each dead
// letter q selects, oldest first from q.After, up to q.Through, until fn
// returns false or scanLimit headers were read (0: no limit). It returns
// the last sequence it looked at and whether there may be more.
func (c *Client) scanDeadLetters(ctx context.Context, q DeadLetterQuery, scanLimit int, fn func(seq uint64, h nats.Header) bool) (last uint64, more bool, scanned int, err error) {
	subject, err := c.deadLetterSubject(q.Queue)
	if err != nil {
		return 0, false, 0, err
	}
	s, err := c.deadLetterStream(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, false, 0, nil
	}
	if err != nil {
		return 0, false, 0, err
	}
	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       q.After + 1,
		HeadersOnly:       true,
		InactiveThreshold: time.Minute,
		Replicas:          1,
		MemoryStorage:     true,
	})
	if err != nil {
		return 0, false, 0, fmt.Errorf("jetjobs: read dead letters: %w", err)
	}
	defer func() { _ = s.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name) }()
	pending := cons.CachedInfo().NumPending
	last = q.After
	for pending > 0 {
		batch, err := cons.FetchNoWait(int(min(pending, 1000)))
		if err != nil {
			return last, true, scanned, fmt.Errorf("jetjobs: read dead letters: %w", err)
		}
		n := 0
		stop := false
		for m := range batch.Messages() {
			n++
			if stop {
				continue // drain the batch
			}
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			seq := meta.Sequence.Stream
			if q.Through > 0 && seq > q.Through {
				stop, more = true, false
				continue
			}
			scanned++
			last = seq
			if q.matches(c.topo.Prefix, m.Headers()) && !fn(seq, m.Headers()) {
				stop, more = true, meta.NumPending > 0
				continue
			}
			if scanLimit > 0 && scanned >= scanLimit {
				stop, more = true, meta.NumPending > 0
			}
		}
		if err := batch.Error(); err != nil {
			return last, true, scanned, fmt.Errorf("jetjobs: read dead letters: %w", err)
		}
		if stop {
			return last, more, scanned, nil
		}
		if n == 0 {
			break
		}
		pending -= min(pending, uint64(n))
		if err := ctx.Err(); err != nil {
			return last, true, scanned, err
		}
	}
	return last, false, scanned, nil
}

// DeadLetterAt returns the dead letter stored at sequence seq.
//
// Errors: ErrDeadLetterNotFound, or the connection's error.
func (c *Client) DeadLetterAt(ctx context.Context, seq uint64) (DeadLetter, error) {
	s, err := c.deadLetterStream(ctx)
	if err != nil {
		return DeadLetter{}, err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: nothing at sequence %d (replayed, deleted or expired)", ErrDeadLetterNotFound, seq)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("jetjobs: read dead letter %d: %w", seq, err)
	}
	return c.topo.deadLetterFromRaw(m), nil
}

// ReplayDeadLetterAt replays the dead letter at sequence seq, as Replay
// does by ID.
func (c *Client) ReplayDeadLetterAt(ctx context.Context, seq uint64) (Result, error) {
	dl, err := c.DeadLetterAt(ctx, seq)
	if err != nil {
		return Result{}, err
	}
	return c.replay(ctx, dl)
}

// DeleteDeadLetterAt deletes the dead letter at sequence seq. Deleting one
// that is gone is not an error.
func (c *Client) DeleteDeadLetterAt(ctx context.Context, seq uint64) error {
	if err := c.deleteDeadLetter(ctx, seq); err != nil {
		return fmt.Errorf("jetjobs: delete dead letter %d: %w", seq, err)
	}
	return nil
}

// ReplayDeadLetters replays every dead letter q selects up to q.Through,
// which must be set (a mark from DeadLetterSequence): dead letters that
// arrive later, replayed jobs that fail again among them, are left alone.
// It returns how many it replayed, and stops at the first failure.
func (c *Client) ReplayDeadLetters(ctx context.Context, q DeadLetterQuery) (int, error) {
	return c.eachQueried(ctx, q, func(seq uint64) error {
		_, err := c.ReplayDeadLetterAt(ctx, seq)
		if errors.Is(err, ErrDeadLetterNotFound) {
			return errSkip
		}
		return err
	})
}

// DeleteDeadLetters deletes every dead letter q selects up to q.Through,
// which must be set (see ReplayDeadLetters), and returns how many. Without
// Kind, Reason and ErrorContains it is one purge on the server.
func (c *Client) DeleteDeadLetters(ctx context.Context, q DeadLetterQuery) (int, error) {
	if q.Through == 0 {
		return 0, fmt.Errorf("%w: DeadLetterQuery.Through must be set: read it with DeadLetterSequence when the dead letters are shown", ErrInvalidOption)
	}
	if !q.headerFiltered() {
		n, err := c.PurgeDeadLettersThrough(ctx, q.Queue, q.Through)
		return int(n), err
	}
	return c.eachQueried(ctx, q, func(seq uint64) error { return c.DeleteDeadLetterAt(ctx, seq) })
}

var errSkip = errors.New("skip")

// eachQueried calls fn with the sequence of each dead letter q selects up
// to q.Through, collected in chunks before they are acted on.
func (c *Client) eachQueried(ctx context.Context, q DeadLetterQuery, fn func(seq uint64) error) (int, error) {
	if q.Through == 0 {
		return 0, fmt.Errorf("%w: DeadLetterQuery.Through must be set: read it with DeadLetterSequence when the dead letters are shown", ErrInvalidOption)
	}
	done := 0
	q.After = 0
	for {
		var seqs []uint64
		last, more, _, err := c.scanDeadLetters(ctx, q, 0, func(seq uint64, _ nats.Header) bool {
			seqs = append(seqs, seq)
			return len(seqs) < 1000
		})
		if err != nil {
			return done, err
		}
		for _, seq := range seqs {
			if err := fn(seq); errors.Is(err, errSkip) {
				continue
			} else if err != nil {
				return done, err
			}
			done++
		}
		if !more {
			return done, nil
		}
		q.After = last
	}
}
