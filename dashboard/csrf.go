package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
)

// csrf protects state-changing requests with a token bound to a random
// cookie of the browser: the form carries HMAC(key, cookie), which a page
// of another origin can neither read nor compute. The cookie is
// SameSite=Strict as well, so a cross-site POST does not even carry it.
type csrf struct {
	key  []byte
	path string
}

const (
	csrfCookie  = "jetjobs_csrf"
	csrfField   = "csrf"
	flashCookie = "jetjobs_flash"
)

// token returns the form token of r's browser, setting its cookie first
// when it has none.
func (c csrf) token(w http.ResponseWriter, r *http.Request) string {
	secret := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		secret = ck.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		secret = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{
			Name: csrfCookie, Value: secret, Path: c.path,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
		r.AddCookie(&http.Cookie{Name: csrfCookie, Value: secret})
	}
	return c.sign(secret)
}

func (c csrf) sign(secret string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid reports whether r carries the token of its cookie.
func (c csrf) valid(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || len(ck.Value) < 32 {
		return false
	}
	got := r.PostForm.Get(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(c.sign(ck.Value)))
}

// setFlash leaves a message for the next page the browser shows.
func setFlash(w http.ResponseWriter, prefix, msg string) {
	if msg == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: prefix + "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

// takeFlash returns the message left for this page, and clears it.
func takeFlash(w http.ResponseWriter, r *http.Request, prefix string) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil || r.Header.Get(liveHeader) != "" {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: prefix + "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	msg, err := url.QueryUnescape(ck.Value)
	if err != nil {
		return ""
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return msg
}

// liveHeader marks the requests of the live refresh.
const liveHeader = "X-Jetjobs-Live"
