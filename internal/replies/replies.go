// Package replies hands out the reply subjects of requests that await
// their answers on one subscription, for the worker's acknowledgement
// confirmations and the client's enqueue acknowledgements.
package replies

import "strconv"

// Tokens gives each request awaiting an answer a token, and with it the
// reply subject inbox.<token>, holding a value of type T until the answer
// comes. A token is reused once its answer came, so the reply subjects are
// few and made once (and the server's subject cache knows them). A token
// whose request was given up (Forget) is not reused until its late answer
// comes: taken earlier, it could be mistaken for the answer to the
// token's next request.
//
// Tokens is not safe for concurrent use; its users hold a lock.
type Tokens[T any] struct {
	inbox   string
	slots   []slot[T]
	replies []string
	free    []int
}

type slot[T any] struct {
	v         T
	used      bool // awaiting an answer
	forgotten bool // given up: freed when the answer comes
}

// New returns Tokens whose reply subjects are inbox.<token>.
func New[T any](inbox string) *Tokens[T] { return &Tokens[T]{inbox: inbox} }

// Inbox returns the subject prefix of the reply subjects; subscribe to
// Inbox()+".*".
func (t *Tokens[T]) Inbox() string { return t.inbox }

// Take returns a token for a request awaiting its answer with v, and the
// reply subject to send it with.
func (t *Tokens[T]) Take(v T) (token int, reply string) {
	if k := len(t.free); k > 0 {
		token = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		token = len(t.slots)
		t.slots = append(t.slots, slot[T]{})
		t.replies = append(t.replies, t.inbox+"."+strconv.Itoa(token))
	}
	t.slots[token] = slot[T]{v: v, used: true}
	return token, t.replies[token]
}

// Answer frees the token of an answer that came on subject and returns
// its request's value; ok is false when subject is not one of the reply
// subjects or no request awaits it (it was forgotten, or answered
// already).
func (t *Tokens[T]) Answer(subject string) (v T, ok bool) {
	if len(subject) <= len(t.inbox)+1 || subject[:len(t.inbox)] != t.inbox || subject[len(t.inbox)] != '.' {
		return v, false
	}
	token, err := strconv.Atoi(subject[len(t.inbox)+1:])
	if err != nil {
		return v, false
	}
	return t.Done(token)
}

// Done frees token, whose answer came, and returns its request's value;
// ok is false when no request awaits it (it was forgotten, or answered
// already).
func (t *Tokens[T]) Done(token int) (v T, ok bool) {
	if token < 0 || token >= len(t.slots) || !t.slots[token].used {
		return v, false
	}
	s := t.slots[token]
	t.slots[token] = slot[T]{}
	t.free = append(t.free, token)
	return s.v, !s.forgotten
}

// Forget gives up the request of token: its value is dropped now, and the
// token freed when the late answer comes (or never).
func (t *Tokens[T]) Forget(token int) {
	if token < 0 || token >= len(t.slots) || !t.slots[token].used {
		return
	}
	t.slots[token] = slot[T]{used: true, forgotten: true}
}

// Waiting calls fn with each token awaiting an answer and its request's
// value, in token order, until fn returns false.
func (t *Tokens[T]) Waiting(fn func(token int, v T) bool) {
	for token, s := range t.slots {
		if s.used && !s.forgotten && !fn(token, s.v) {
			return
		}
	}
}
