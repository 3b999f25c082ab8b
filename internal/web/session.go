package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/auth"
)

const (
	// sessionCookie holds the caller's own bearer token: the dashboard keeps no server-side
	// session, so signing out is deleting the cookie and a token's expiry ends the session.
	sessionCookie = "partnerlink_session"
	// preCookie is a random value bound to the sign-in form's CSRF token before any session
	// exists (login CSRF).
	preCookie = "partnerlink_presession"
)

func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	// Secure whenever browsers reach the server over https, also through a TLS-terminating
	// proxy (d.HTTPS, set by serve --public-url https://...), where r.TLS is nil.
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.d.HTTPS || r.TLS != nil})
}

// csrf returns the form token bound to a session (or pre-session) value.
func (s *server) csrf(bound string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("partnerlink-csrf\x00" + bound))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *server) csrfOK(r *http.Request, bound string) bool {
	got := r.PostFormValue("csrf")
	return bound != "" && got != "" && hmac.Equal([]byte(got), []byte(s.csrf(bound)))
}

// identify verifies the session cookie with the server's authenticator, exactly as if the
// token had come as a bearer header.
func (s *server) identify(r *http.Request) (*auth.Identity, string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || s.d.Authenticate == nil {
		return nil, "", false
	}
	return s.verify(r, c.Value)
}

func (s *server) verify(r *http.Request, token string) (*auth.Identity, string, bool) {
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+token)
	r3, err := s.d.Authenticate(r2)
	if err != nil {
		return nil, "", false
	}
	id, ok := auth.FromContext(r3.Context())
	return id, token, ok
}

func (s *server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignin(w, r, "", http.StatusOK)
}

func (s *server) renderSignin(w http.ResponseWriter, r *http.Request, msg string, status int) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	pre := hex.EncodeToString(b)
	s.setCookie(w, r, preCookie, pre, 600)
	s.render(w, status, "signin", view{Title: "Sign in", CSRF: s.csrf(pre), Message: msg})
}

func (s *server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	pre, err := r.Cookie(preCookie)
	if err != nil || !s.csrfOK(r, pre.Value) {
		s.renderSignin(w, r, "The sign-in form expired or came from another site; paste the token again.", http.StatusForbidden)
		return
	}
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("token")), "Bearer "))
	if _, _, ok := s.verify(r, token); token == "" || !ok {
		s.renderSignin(w, r, "That token was not accepted (expired, wrong issuer or malformed). Ask your operator for a new one.", http.StatusUnauthorized)
		return
	}
	s.setCookie(w, r, preCookie, "", -1)
	s.setCookie(w, r, sessionCookie, token, 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) signout(w http.ResponseWriter, r *http.Request, c *ctx) {
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
