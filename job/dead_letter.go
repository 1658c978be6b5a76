package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// DeadLetter is a job that could not succeed, as stored in the dead-letter
// stream: its payload and original headers, plus why it died.
type DeadLetter struct {
	// ID is the job's ID.
	ID string
	// Queue and Kind of the original job.
	Queue, Kind string
	// Subject is the job's original subject; replay publishes there.
	Subject string
	// Reason, Error and Attempts say why and after how many attempts.
	Reason   Reason
	Error    string
	Attempts int
	// FailedAt is when the job was dead-lettered.
	FailedAt time.Time
	// Header holds every header of the dead letter.
	Header nats.Header
	// Payload is the job's original payload.
	Payload []byte
	// Seq is the dead letter's sequence in the dead-letter stream.
	Seq uint64

	// stored is the subject the dead letter is stored on:
	// <DeadLetterPrefix>.<queue>.<reason>.<ID token>.<kind>, or
	// <DeadLetterPrefix>.<queue>.<ID token> for one stored by an older
	// version (wire.ParseDeadLetterSubject).
	stored string
}

// invalidQueue is the queue token of the dead letters of jobs whose queue
// could not be read.
const invalidQueue = wire.InvalidQueue

// DeadLetterMessage builds the dead letter of a job message: the original
// payload and headers plus the protocol-v1 dead-letter headers. jobStream and
// jobSeq identify the original message; they name the dead letter's
// Nats-Msg-Id, dlq:<stream>:<seq>:<stored-ns>, so two workers dead-lettering
// the same message store it once. This method does not know when the server
// stored the job message and writes 0 for it; workers, which know, build
// dead letters with the stored time.
func (t Topology) DeadLetterMessage(subject string, h nats.Header, data []byte, id, queue string, jobStream string, jobSeq uint64, reason Reason, cause string, attempts int) *nats.Msg {
	t = t.WithDefaults()
	_, kind, _ := ParseSubject(t.Prefix, subject)
	return wire.DeadLetterMessage(wire.DeadLetter{
		Prefix:  t.DeadLetterPrefix,
		Subject: subject, Header: h, Data: data,
		ID: id, Queue: queue, Kind: kind,
		Stream: jobStream, Seq: jobSeq, Stored: time.Unix(0, 0),
		Reason: string(reason), Cause: cause, Attempts: attempts,
	})
}

func (t Topology) deadLetterFromRaw(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	dl := DeadLetter{
		ID:      h.Get(HeaderID),
		Subject: h.Get(HeaderSubject),
		Reason:  Reason(h.Get(HeaderReason)),
		Error:   h.Get(HeaderError),
		Header:  h,
		Payload: m.Data,
		Seq:     m.Sequence,
		stored:  m.Subject,
	}
	dl.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempts))
	dl.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt))
	if dl.FailedAt.IsZero() {
		dl.FailedAt = m.Time
	}
	dl.Queue, dl.Kind, _ = ParseSubject(t.Prefix, dl.Subject)
	return dl
}

// deadLetterStream looks up the dead-letter stream; its error names the
// stream and wraps the lookup's (jetstream.ErrStreamNotFound when there is
// none).
func (c *Client) deadLetterStream(ctx context.Context) (jetstream.Stream, error) {
	s, err := c.js.Stream(ctx, c.topo.DeadLetterStream)
	if err != nil {
		return nil, fmt.Errorf("jetjobs: dead-letter stream %s: %w", c.topo.DeadLetterStream, err)
	}
	return s, nil
}

// DeadLetterFilter selects dead letters.
type DeadLetterFilter struct {
	// Queue limits the listing to one queue; empty means all.
	Queue string
	// Limit caps the number returned; zero means no cap.
	Limit int
}

func (c *Client) deadLetterSubject(queue string) (string, error) {
	if queue != "" {
		if err := ValidateQueue(queue); err != nil {
			return "", err
		}
	}
	return wire.DeadLetterFilter(c.topo.DeadLetterPrefix, queue), nil
}

// DeadLetters lists dead letters, oldest first.
func (c *Client) DeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, error) {
	var out []DeadLetter
	err := c.eachDeadLetter(ctx, f.Queue, func(dl DeadLetter) bool {
		out = append(out, dl)
		return f.Limit <= 0 || len(out) < f.Limit
	})
	return out, err
}

// eachDeadLetter calls fn for each dead letter of queue (all when empty),
// oldest first, until fn returns false.
func (c *Client) eachDeadLetter(ctx context.Context, queue string, fn func(DeadLetter) bool) error {
	subject, err := c.deadLetterSubject(queue)
	if err != nil {
		return err
	}
	s, err := c.deadLetterStream(ctx)
	if err != nil {
		return err
	}
	var seq uint64 = 1
	for {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("jetjobs: read dead letters: %w", err)
		}
		if !fn(c.topo.deadLetterFromRaw(m)) {
			return nil
		}
		seq = m.Sequence + 1
	}
}

// DeadLetter returns the newest dead letter of the job with the given ID,
// or ErrDeadLetterNotFound.
func (c *Client) DeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	s, err := c.deadLetterStream(ctx)
	if err != nil {
		return DeadLetter{}, err
	}
	// A dead letter of either form: workers of this version file it with
	// its reason and kind, older ones did not.
	var newest *jetstream.RawStreamMsg
	current, v1 := wire.DeadLetterIDFilters(c.topo.DeadLetterPrefix, id)
	for _, filter := range []string{current, v1} {
		m, err := s.GetLastMsgForSubject(ctx, filter)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return DeadLetter{}, fmt.Errorf("jetjobs: read dead letter %q: %w", id, err)
		}
		if newest == nil || m.Sequence > newest.Sequence {
			newest = m
		}
	}
	if newest == nil {
		return DeadLetter{}, fmt.Errorf("%w: no dead letter has ID %q", ErrDeadLetterNotFound, id)
	}
	return c.topo.deadLetterFromRaw(newest), nil
}

// Replay publishes the dead letter with the given ID to its original subject
// as a fresh job (same ID, payload and headers; attempts start over) and
// deletes the dead letter only after the work stream acknowledged the
// publish. It refuses, with ErrInvalidDeadLetter, a dead letter whose
// original subject is not a job subject of the queue it is filed under,
// whose ID is not the one it is filed under, or (a dead letter filed under
// its reason and kind) whose kind or reason is not the one it is filed
// under: dead letters are written by workers, and a replay must never
// publish anything but a job of that queue, nor a replay of a kind's dead
// letters a job of another kind.
func (c *Client) Replay(ctx context.Context, id string) (Result, error) {
	dl, err := c.DeadLetter(ctx, id)
	if err != nil {
		return Result{}, err
	}
	return c.replay(ctx, dl)
}

func (c *Client) replay(ctx context.Context, dl DeadLetter) (Result, error) {
	if err := c.replayable(dl); err != nil {
		return Result{ID: dl.ID}, err
	}
	// The deadline goes too: a replay is a request to run the job now, and
	// an expired job would only be dead-lettered again.
	h := CopyHeader(dl.Header, 2, HeaderReason, HeaderError, HeaderAttempts, HeaderSubject, HeaderFailedAt, HeaderAttemptBase, HeaderDeadline, HeaderNotBefore)
	// A fresh message ID: the original one may still be in the duplicate
	// window, which would swallow the replay. Naming it after the dead
	// letter keeps a repeated replay of the same dead letter idempotent.
	h.Set(HeaderMsgID, wire.CopyID(wire.CopyReplay, c.topo.DeadLetterStream, dl.Seq, dl.FailedAt))
	// Replaying a canceled job means it should run after all. The replayed
	// message says so itself, instead of the cancel record being deleted:
	// that record is shared by every job with the ID, in every queue, and
	// whoever writes dead letters of this queue must not lift the cancel of
	// a job of another.
	h.Set(HeaderReplayedAt, time.Now().UTC().Format(time.RFC3339Nano))
	msg := &nats.Msg{Subject: dl.Subject, Header: h, Data: dl.Payload}
	// The server refuses the publish unless the work stream stores it, so
	// nothing else can answer it.
	ack, err := c.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(c.topo.Stream))
	if err != nil {
		return Result{ID: dl.ID}, c.publishError(msg, err)
	}
	if ack.Stream != c.topo.Stream {
		return Result{ID: dl.ID, Seq: ack.Sequence}, fmt.Errorf("%w: dead letter %d kept: the replay was stored in stream %q, not %s", ErrTopologyMismatch, dl.Seq, ack.Stream, c.topo.Stream)
	}
	if err := c.deleteDeadLetter(ctx, dl.Seq); err != nil {
		return Result{ID: dl.ID, Seq: ack.Sequence}, fmt.Errorf("jetjobs: job %q replayed but its dead letter %d was not deleted: %w", dl.ID, dl.Seq, err)
	}
	return Result{ID: dl.ID, Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// replayable checks that replaying dl publishes a job and nothing else.
// Whoever may write dead letters of a queue (its workers) chooses every
// header of them, so the original subject is trusted only when it is a job
// subject of this namespace whose queue is the queue the dead letter is
// filed under, and the job ID only when the dead letter is filed under it:
// a forged dead letter can then replay at most a job of its own queue, never
// publish to another subject (such as a JetStream API request) or touch
// another queue's jobs or cancel records.
func (c *Client) replayable(dl DeadLetter) error {
	refuse := func(why string, args ...any) error {
		return fmt.Errorf("%w: dead letter %d (ID %q) is not replayed: %s; inspect it with `jetjobs dlq show` and delete it (dlq purge) if it was not written by a jetjobs worker",
			ErrInvalidDeadLetter, dl.Seq, clip(dl.ID), fmt.Sprintf(why, args...))
	}
	if dl.Subject == "" {
		return refuse("it has no %s header", HeaderSubject)
	}
	queue, kind, err := ParseSubject(c.topo.Prefix, dl.Subject)
	if err != nil {
		return refuse("its %s %q is not a job subject of this namespace (%s.<queue>.<kind>)", HeaderSubject, clip(dl.Subject), c.topo.Prefix)
	}
	place, ok := wire.ParseDeadLetterSubject(c.topo.DeadLetterPrefix, dl.stored)
	if !ok {
		return refuse("it is stored on %q, outside %s.<queue>.<reason>.<id>.<kind>", clip(dl.stored), c.topo.DeadLetterPrefix)
	}
	if place.Queue != queue {
		return refuse("it is filed under queue %q but names a job of queue %q", clip(place.Queue), queue)
	}
	if dl.ID == "" || place.Token != SubjectToken(dl.ID) {
		return refuse("it is filed under ID token %q but names job ID %q", clip(place.Token), clip(dl.ID))
	}
	// A dead letter of the current form is also filed under its kind and
	// reason, which select it for a replay of all that match: replaying
	// it must not publish a job of another kind, nor one that died for
	// another reason.
	if !place.V1 && place.Kind != kind {
		return refuse("it is filed under kind %q but names a job of kind %q", clip(place.Kind), clip(kind))
	}
	if !place.V1 && place.Reason != string(dl.Reason) {
		return refuse("it is filed under reason %q but its %s is %q", clip(place.Reason), HeaderReason, clip(string(dl.Reason)))
	}
	return nil
}

// ReplayAll replays the dead letters of queue (all queues when empty) that
// exist when it starts, and returns how many it replayed: a replayed job
// that fails again and comes back as a new dead letter is not replayed
// again by the same call. progress, if not nil, is called after each.
// Dead letters that Replay refuses (ErrInvalidDeadLetter) are left in place
// and the others replayed; the error then wraps ErrInvalidDeadLetter.
func (c *Client) ReplayAll(ctx context.Context, queue string, progress func(done int)) (int, error) {
	var (
		n, invalid int
		lastErr    error
		firstBad   error
	)
	mark, err := c.DeadLetterSequence(ctx)
	if err != nil || mark == 0 {
		return 0, err
	}
	err = c.eachDeadLetter(ctx, queue, func(dl DeadLetter) bool {
		if dl.Seq > mark {
			return false
		}
		if _, err := c.replay(ctx, dl); errors.Is(err, ErrInvalidDeadLetter) {
			// One forged dead letter must not hold back the others.
			invalid++
			if firstBad == nil {
				firstBad = err
			}
			return ctx.Err() == nil
		} else if err != nil {
			lastErr = err
			return false
		}
		n++
		if progress != nil {
			progress(n)
		}
		return ctx.Err() == nil
	})
	if lastErr != nil {
		return n, lastErr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && invalid > 0 {
		err = fmt.Errorf("%d dead letters were left where they are (the first: %w)", invalid, firstBad)
	}
	return n, err
}

// PurgeDeadLetters deletes the dead letters of queue (all when empty) and
// returns how many were deleted.
func (c *Client) PurgeDeadLetters(ctx context.Context, queue string) (uint64, error) {
	subject, err := c.deadLetterSubject(queue)
	if err != nil {
		return 0, err
	}
	return c.purgeDeadLetters(ctx, subject, 0)
}

// DeadLetterSequence returns the dead-letter stream's last sequence: every
// dead letter stored so far has this sequence or a lower one. Read it before
// showing or counting dead letters, and pass it to PurgeDeadLettersThrough,
// so that a purge someone confirmed spares dead letters that arrived after
// they looked.
func (c *Client) DeadLetterSequence(ctx context.Context) (uint64, error) {
	s, err := c.deadLetterStream(ctx)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.LastSeq, nil
}

// PurgeDeadLettersThrough deletes the dead letters of queue (all when empty)
// stored at or below sequence through of the dead-letter stream and returns
// how many the server deleted. A mark of 0 (the stream had never held a
// dead letter) deletes nothing.
func (c *Client) PurgeDeadLettersThrough(ctx context.Context, queue string, through uint64) (uint64, error) {
	subject, err := c.deadLetterSubject(queue)
	if err != nil || through == 0 {
		return 0, err
	}
	return c.purgeDeadLetters(ctx, subject, through+1)
}

// purgeDeadLetters purges the dead letters on subject (a filter) below
// sequence below (all when 0).
func (c *Client) purgeDeadLetters(ctx context.Context, subject string, below uint64) (uint64, error) {
	req := struct {
		Filter string `json:"filter,omitempty"`
		Seq    uint64 `json:"seq,omitempty"` // purge below this sequence
	}{Filter: subject, Seq: below}
	var resp struct {
		Success bool                `json:"success"`
		Purged  uint64              `json:"purged"`
		Error   *jetstream.APIError `json:"error"`
	}
	// The purge request itself, not Stream.Purge, because only its response
	// says how many messages the server deleted.
	if err := c.apiRequest(ctx, "STREAM.PURGE."+c.topo.DeadLetterStream, req, &resp); err != nil {
		return 0, fmt.Errorf("jetjobs: purge dead letters: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound {
			return 0, fmt.Errorf("jetjobs: dead-letter stream %s: %w", c.topo.DeadLetterStream, jetstream.ErrStreamNotFound)
		}
		return 0, fmt.Errorf("jetjobs: purge dead letters: %w", resp.Error)
	}
	return resp.Purged, nil
}

// apiRequest sends a JetStream API request (subject relative to the API
// prefix of c's JetStream context, domain included) and decodes the reply.
func (c *Client) apiRequest(ctx context.Context, subject string, req, resp any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		timeout := c.js.Options().DefaultTimeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	msg, err := c.js.Conn().RequestWithContext(ctx, wire.APIPrefix(c.js)+subject, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return jetstream.ErrJetStreamNotEnabled
		}
		return err
	}
	return json.Unmarshal(msg.Data, resp)
}

func (c *Client) deleteDeadLetter(ctx context.Context, seq uint64) error {
	s, err := c.deadLetterStream(ctx)
	if err == nil {
		err = s.DeleteMsg(ctx, seq)
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	return nil
}
