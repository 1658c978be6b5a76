package replies

import "testing"

func TestTokensReuseAnsweredNotForgotten(t *testing.T) {
	tk := New[string]("_INBOX.x")
	a, ra := tk.Take("a")
	b, rb := tk.Take("b")
	if ra != "_INBOX.x.0" || rb != "_INBOX.x.1" {
		t.Fatalf("reply subjects %q %q", ra, rb)
	}
	if v, ok := tk.Done(a); !ok || v != "a" {
		t.Fatalf("Done(a) = %q, %v", v, ok)
	}
	if _, ok := tk.Done(a); ok {
		t.Fatal("a second answer for the same token was taken")
	}
	c, rc := tk.Take("c")
	if c != a || rc != ra {
		t.Fatalf("answered token not reused: %d %q", c, rc)
	}
	tk.Forget(b)
	d, _ := tk.Take("d")
	if d == b {
		t.Fatal("a forgotten token was reused before its answer came")
	}
	var waiting []string
	tk.Waiting(func(_ int, v string) bool { waiting = append(waiting, v); return true })
	if len(waiting) != 2 || waiting[0] != "c" || waiting[1] != "d" {
		t.Fatalf("waiting %v, want [c d]", waiting)
	}
	if _, ok := tk.Done(b); ok {
		t.Fatal("the late answer of a forgotten request was taken")
	}
	if e, _ := tk.Take("e"); e != b {
		t.Fatalf("token %d after the late answer, want the forgotten %d again", e, b)
	}
}

func TestAnswerBySubject(t *testing.T) {
	tk := New[int]("_INBOX.x")
	tk.Take(7)
	for _, subject := range []string{"_INBOX.x.1", "_INBOX.y.0", "_INBOX.x.", "_INBOX.x0", "_INBOX.x.a", "_INBOX.x.-1"} {
		if _, ok := tk.Answer(subject); ok {
			t.Errorf("Answer(%q) took an answer", subject)
		}
	}
	if v, ok := tk.Answer("_INBOX.x.0"); !ok || v != 7 {
		t.Fatalf("Answer(_INBOX.x.0) = %d, %v", v, ok)
	}
	if _, ok := tk.Answer("_INBOX.x.0"); ok {
		t.Fatal("a second answer on the same subject was taken")
	}
}
