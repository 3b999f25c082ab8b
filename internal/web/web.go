// Package web serves the dashboard at /: server-rendered pages (html/template), assets
// embedded with go:embed (no CDN; works offline), sign-in with a pasted token kept in an
// HttpOnly, SameSite=Strict cookie, and CSRF tokens bound to the session on every form.
//
// Pages reuse the report package's tables, so the dashboard shows exactly what the CLI and the
// API report. Every page states its role: partner pages need a partner token for that ID (or
// an operator), customer pages a customer admin of that tenant, operator pages an operator.
package web

import (
	"crypto/rand"
	"embed"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// server holds the dashboard's state: the shared deps, templates and the CSRF key.
type server struct {
	d    api.Deps
	tmpl *template.Template
	// csrfKey signs CSRF tokens (HMAC of the session). It is random per process: a restart
	// invalidates open forms, never sessions (the session is the caller's own token).
	csrfKey []byte
	// explain serves GET /v1/explain for the explain search box (see explain.go).
	explain http.Handler
}

// Register adds the dashboard routes to mux.
func Register(mux *api.Mux, d api.Deps) {
	s := &server{d: d, tmpl: template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")), csrfKey: make([]byte, 32)}
	if _, err := rand.Read(s.csrfKey); err != nil {
		panic("web: no randomness for the CSRF key: " + err.Error()) // crypto/rand never fails on supported systems
	}
	s.explain = mux
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.HandleFunc("POST /signin", s.signin)
	mux.HandleFunc("POST /signout", s.page(anyRole, s.signout))
	mux.HandleFunc("GET /partners/{id}", s.page(anyRole, s.partnerPage))
	mux.HandleFunc("GET /partners/{id}/explain", s.page(anyRole, s.explainPage))
	mux.HandleFunc("POST /partners/{id}/explain", s.page(anyRole, s.explainPage))
	mux.HandleFunc("GET /partners/{id}/coverage", s.page(anyRole, s.coveragePage))
	mux.HandleFunc("GET /customers/{tenant}", s.page(anyRole, s.customerPage))
	mux.HandleFunc("GET /customers/{tenant}/partners", s.page(anyRole, s.tenantPartnersPage))
	mux.HandleFunc("POST /customers/{tenant}/webhooks", s.page(anyRole, s.addWebhook))
	mux.HandleFunc("POST /customers/{tenant}/webhooks/{wid}/delete", s.page(anyRole, s.deleteWebhook))
	mux.HandleFunc("GET /operator", s.page(anyRole, s.operatorPage))
}

// cacheStatic serves the embedded assets with caching headers, and never a directory
// listing: a path naming a directory, or nothing, is the HTML 404 page.
func cacheStatic(h http.Handler) http.Handler {
	notFound := func(w http.ResponseWriter, r *http.Request) {
		WriteClass(w, api.Class{Kind: api.KindNotFound, Status: http.StatusNotFound, Code: "NotFound",
			Message: "There is no asset at /static/" + r.URL.Path + "."})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			notFound(w, r)
			return
		}
		f, err := staticFS.Open(path.Join("static", r.URL.Path))
		if err != nil {
			notFound(w, r)
			return
		}
		st, err := f.Stat()
		f.Close()
		if err == nil && st.IsDir() {
			notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// WriteClass answers an error raised outside a dashboard handler (a panic) with a plain page.
func WriteClass(w http.ResponseWriter, c api.Class) {
	secure(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(c.Status)
	msg := c.Message
	if id := api.InfoOf(w).ID; c.Kind == api.KindInternal && id != "" {
		msg += " (request " + id + ")"
	}
	_, _ = io.WriteString(w, "<!doctype html><title>"+http.StatusText(c.Status)+"</title><h1>"+http.StatusText(c.Status)+"</h1><p>"+
		template.HTMLEscapeString(msg)+"</p><p><a href=\"/\">Back to the dashboard</a></p>\n")
}
