package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// DeadLetterQuery selects dead letters by queue, kind, reason and error
// text, page by page. Queue, reason and kind are parts of a dead letter's
// subject (docs/protocol.md), so the server selects and counts by them;
// the error is a header, which the client reads (headers only, never
// payloads) from the dead letters the other filters select. Dead letters
// stored by earlier versions carry no reason and kind in their subject
// (<prefix>.<queue>.<id>): the client reads their headers to select them
// by those.
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
	// page's Next; zero: from the newest). It applies to what the server
	// selects by subject (see QueryDeadLetters); other pages are read
	// oldest first, and DeadLetterPage.Newest says which a page is.
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

// Describe says what q selects, for people ("queue mail, kind email.send,
// error containing "timeout""), or "" for every dead letter.
func (q DeadLetterQuery) Describe() string {
	var parts []string
	if q.Queue != "" {
		parts = append(parts, "queue "+q.Queue)
	}
	if q.Kind != "" {
		parts = append(parts, "kind "+q.Kind)
	}
	if q.Reason != "" {
		parts = append(parts, "reason "+string(q.Reason))
	}
	if q.ErrorContains != "" {
		parts = append(parts, fmt.Sprintf("error containing %q", q.ErrorContains))
	}
	return strings.Join(parts, ", ")
}

// headerFiltered reports whether q selects by more than the queue.
func (q DeadLetterQuery) headerFiltered() bool {
	return q.Kind != "" || q.Reason != "" || q.ErrorContains != ""
}

// subjectFiltered reports whether q selects by reason or kind, the parts
// of the current subject form beyond the queue.
func (q DeadLetterQuery) subjectFiltered() bool {
	return q.Kind != "" || q.Reason != ""
}

// filters returns the subject filters of q's dead letters: one for the
// queue (both forms), or, when q selects by kind or reason, the current
// form's filter and the v1 filter of the queue (whose dead letters only
// their headers place). It checks the names, so that nothing in them
// widens a filter.
func (c *Client) deadLetterFilters(q DeadLetterQuery) (current, v1 string, err error) {
	if q.Queue != "" && q.Queue != invalidQueue {
		if err := ValidateQueue(q.Queue); err != nil {
			return "", "", err
		}
	}
	if q.Kind != "" {
		if err := ValidateKind(q.Kind); err != nil {
			return "", "", err
		}
	}
	if q.Reason != "" && wire.InvalidTokenChar(string(q.Reason)) >= 0 {
		return "", "", fmt.Errorf("%w: reason %q: use one of failed, max-deliveries, decode, no-handler, canceled, expired", ErrInvalidName, clip(string(q.Reason)))
	}
	if !q.subjectFiltered() {
		return wire.DeadLetterFilter(c.topo.DeadLetterPrefix, q.Queue), "", nil
	}
	current, v1 = wire.DeadLetterFilters(c.topo.DeadLetterPrefix, q.Queue, string(q.Reason), q.Kind)
	return current, v1, nil
}

// matches reports whether the dead letter stored on subject with headers
// h matches q: by the reason and kind it is filed under, or, for a dead
// letter of the v1 form, whose subject does not say, by its headers; and
// by its error text.
func (q DeadLetterQuery) matches(prefix, dlqPrefix, subject string, h nats.Header) bool {
	if place, ok := wire.ParseDeadLetterSubject(dlqPrefix, subject); ok && !place.V1 {
		if (q.Reason != "" && place.Reason != string(q.Reason)) || (q.Kind != "" && place.Kind != q.Kind) {
			return false
		}
	} else {
		if q.Reason != "" && Reason(h.Get(HeaderReason)) != q.Reason {
			return false
		}
		if q.Kind != "" {
			if _, kind, _ := ParseSubject(prefix, h.Get(HeaderSubject)); kind != q.Kind {
				return false
			}
		}
	}
	if q.ErrorContains != "" && !strings.Contains(strings.ToLower(h.Get(HeaderError)), strings.ToLower(q.ErrorContains)) {
		return false
	}
	return true
}

// DeadLetterPage is one page of dead letters. Next is the cursor of the
// following page (DeadLetterQuery.Before when Newest, else After); zero
// when the query has no more. Scanned counts the dead letters whose
// headers the page read. Newest says the page lists newest first.
type DeadLetterPage struct {
	DeadLetters []DeadLetter
	Next        uint64
	Scanned     int
	Newest      bool
}

// QueryDeadLetters returns one page of the dead letters q selects, oldest
// first, or newest first when q.Newest asks for it and q selects by
// subject only: by queue, kind and reason, with no dead letter of the v1
// subject form among the queue's (which only their headers place), and
// without ErrorContains. The page's Newest says which it is.
//
// Errors: ErrInvalidName for an invalid queue, kind or reason, or the
// connection's error.
func (c *Client) QueryDeadLetters(ctx context.Context, q DeadLetterQuery) (DeadLetterPage, error) {
	limit := JobFilter{Limit: q.Limit}.limit()
	scanLimit := q.ScanLimit
	if scanLimit <= 0 {
		scanLimit = 2500
	}
	var page DeadLetterPage
	if !q.headerFiltered() {
		subject, err := c.deadLetterSubject(q.Queue)
		if err != nil {
			return page, err
		}
		if q.Newest {
			return c.newestDeadLetters(ctx, q, subject, limit)
		}
		return c.deadLetterPage(ctx, q, limit)
	}
	current, v1, err := c.deadLetterFilters(q)
	if err != nil {
		return page, err
	}
	if q.Newest && q.ErrorContains == "" {
		s, err := c.deadLetterStream(ctx)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return page, nil
		}
		if err != nil {
			return page, err
		}
		old, err := c.pendingFrom(ctx, s, v1, 1)
		if err != nil {
			return page, err
		}
		if old == 0 {
			return c.newestDeadLetters(ctx, q, current, limit)
		}
	}
	var seqs []uint64
	last, more, scanned, err := c.scanDeadLetters(ctx, q, []string{current, v1}, scanLimit, func(seq uint64, h nats.Header) bool {
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

// newestDeadLetters reads a page of the dead letters on subject (a
// filter) below q.Before (and at most q.Through), newest first. Next is
// the sequence to pass as Before for the following page.
func (c *Client) newestDeadLetters(ctx context.Context, q DeadLetterQuery, subject string, limit int) (DeadLetterPage, error) {
	page := DeadLetterPage{Newest: true}
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
	if top == 0 && q.Queue == "" {
		// From the stream's last sequence rather than the filter's last
		// message: across queues, a filter by kind or reason starts with
		// a wildcard, and the server finds its last message by walking
		// every subject (20 ms at 100,000 dead letters); the page's first
		// window finds the matches below it anyway.
		if top = s.CachedInfo().State.LastSeq; top == 0 {
			return page, nil
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
// q.Limit aside). The server counts those that q's queue, reason and kind
// select (a consumer's pending count, read from its subject index);
// without ErrorContains nothing else is read but the headers of dead
// letters that an older version stored without reason and kind in their
// subject. With ErrorContains the client reads the headers of the dead
// letters the other filters select, up to q.Through: a read that grows
// with their number (about 0.8 s of CPU per 100,000 on a 2-core machine).
func (c *Client) CountDeadLetters(ctx context.Context, q DeadLetterQuery) (uint64, error) {
	q.After = 0
	current, v1, err := c.deadLetterFilters(q)
	if err != nil {
		return 0, err
	}
	if q.ErrorContains != "" {
		var n uint64
		_, _, _, err := c.scanDeadLetters(ctx, q, []string{current, v1}, 0, func(uint64, nats.Header) bool {
			n++
			return true
		})
		return n, err
	}
	s, err := c.deadLetterStream(ctx)
	if err != nil {
		return 0, err
	}
	n, err := c.countThrough(ctx, s, current, q.Through)
	if err != nil || v1 == "" {
		return n, err
	}
	old, err := c.countThrough(ctx, s, v1, q.Through)
	if err != nil || old == 0 {
		return n, err
	}
	_, _, _, err = c.scanDeadLetters(ctx, q, []string{v1}, 0, func(uint64, nats.Header) bool {
		n++
		return true
	})
	return n, err
}

// countThrough counts the messages of s on subject at or below sequence
// through (all when 0), from the server's pending counts.
func (c *Client) countThrough(ctx context.Context, s jetstream.Stream, subject string, through uint64) (uint64, error) {
	all, err := c.pendingFrom(ctx, s, subject, 1)
	if err != nil || through == 0 {
		return all, err
	}
	above, err := c.pendingFrom(ctx, s, subject, through+1)
	if err != nil {
		return 0, err
	}
	return all - min(all, above), nil
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
// letter q selects on the subject filters (empty ones are left out),
// oldest first from q.After, up to q.Through, until fn returns false or
// scanLimit headers were read (0: no limit). It returns the last sequence
// it looked at and whether there may be more.
func (c *Client) scanDeadLetters(ctx context.Context, q DeadLetterQuery, filters []string, scanLimit int, fn func(seq uint64, h nats.Header) bool) (last uint64, more bool, scanned int, err error) {
	filters = slices.DeleteFunc(slices.Clone(filters), func(f string) bool { return f == "" })
	s, err := c.deadLetterStream(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, false, 0, nil
	}
	if err != nil {
		return 0, false, 0, err
	}
	if len(filters) > 1 {
		// One filter per consumer: the server matches a consumer of
		// several filters against every subject of a block for each
		// message it delivers, and every dead letter has a subject of its
		// own (reading 25,000 headers was over ten times slower so in
		// BenchmarkPages). The current form's filter alone while no dead
		// letter of the v1 form is in scope; else the queue's, both
		// forms, which matches sorts out.
		old, err := c.pendingFrom(ctx, s, filters[1], q.After+1)
		if err != nil {
			return 0, false, 0, err
		}
		if old == 0 {
			filters = filters[:1]
		} else {
			filters = []string{wire.DeadLetterFilter(c.topo.DeadLetterPrefix, q.Queue)}
		}
	}
	cfg := jetstream.ConsumerConfig{
		FilterSubject:     filters[0],
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       q.After + 1,
		HeadersOnly:       true,
		InactiveThreshold: time.Minute,
		Replicas:          1,
		MemoryStorage:     true,
	}
	cons, err := s.CreateConsumer(ctx, cfg)
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
			if q.matches(c.topo.Prefix, c.topo.DeadLetterPrefix, m.Subject(), m.Headers()) && !fn(seq, m.Headers()) {
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
	current, v1, err := c.deadLetterFilters(q)
	if err != nil {
		return 0, err
	}
	return c.eachQueried(ctx, q, []string{current, v1}, func(seq uint64) error {
		_, err := c.ReplayDeadLetterAt(ctx, seq)
		if errors.Is(err, ErrDeadLetterNotFound) {
			return errSkip
		}
		return err
	})
}

// DeleteDeadLetters deletes every dead letter q selects up to q.Through,
// which must be set (see ReplayDeadLetters), and returns how many. Without
// ErrorContains it is one purge on the server by q's subject filter, and
// a delete each for the dead letters an older version stored without
// reason and kind in their subject that match by their headers.
func (c *Client) DeleteDeadLetters(ctx context.Context, q DeadLetterQuery) (int, error) {
	if q.Through == 0 {
		return 0, fmt.Errorf("%w: DeadLetterQuery.Through must be set: read it with DeadLetterSequence when the dead letters are shown", ErrInvalidOption)
	}
	current, v1, err := c.deadLetterFilters(q)
	if err != nil {
		return 0, err
	}
	if q.ErrorContains != "" {
		return c.eachQueried(ctx, q, []string{current, v1}, func(seq uint64) error { return c.DeleteDeadLetterAt(ctx, seq) })
	}
	purged, err := c.purgeDeadLetters(ctx, current, q.Through+1)
	if err != nil || v1 == "" {
		return int(purged), err
	}
	n, err := c.eachQueried(ctx, q, []string{v1}, func(seq uint64) error { return c.DeleteDeadLetterAt(ctx, seq) })
	return int(purged) + n, err
}

var errSkip = errors.New("skip")

// eachQueried calls fn with the sequence of each dead letter q selects on
// the subject filters up to q.Through, collected in chunks before they are
// acted on.
func (c *Client) eachQueried(ctx context.Context, q DeadLetterQuery, filters []string, fn func(seq uint64) error) (int, error) {
	if q.Through == 0 {
		return 0, fmt.Errorf("%w: DeadLetterQuery.Through must be set: read it with DeadLetterSequence when the dead letters are shown", ErrInvalidOption)
	}
	done := 0
	q.After = 0
	for {
		var seqs []uint64
		last, more, _, err := c.scanDeadLetters(ctx, q, filters, 0, func(seq uint64, _ nats.Header) bool {
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
