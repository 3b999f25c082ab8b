package api

import "net/http"

// Mux is the server's router: an http.ServeMux that remembers the patterns registered on it,
// so tests can list every endpoint (the authorization matrix fails on an endpoint without a
// row) and nothing needs a second list kept by hand.
type Mux struct {
	*http.ServeMux
	patterns []string
}

// NewMux returns an empty router.
func NewMux() *Mux { return &Mux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern (net/http pattern syntax).
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern.
func (m *Mux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Patterns returns the registered patterns in registration order.
func (m *Mux) Patterns() []string { return append([]string(nil), m.patterns...) }
