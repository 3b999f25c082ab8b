package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/server"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/postgres"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

const (
	tenantA = "aaaaaaaa-0000-4000-8000-000000000001"
	tenantB = "bbbbbbbb-0000-4000-8000-000000000001"
	self    = "cccccccc-0000-4000-8000-000000000001" // a principal of tenant A, linked to 4000001
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// logBuf collects the server's JSON log lines.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type env struct {
	t    *testing.T
	db   *store.DB
	key  *auth.Key
	d    api.Deps
	srv  *httptest.Server
	logs *logBuf
}

// newEnv serves a small directory (Contoso 4000000 with locations 4000001 and 4000002,
// Fabrikam 5000000 with 5000001) and one link (tenant A's principal self -> 4000001).
func newEnv(t *testing.T, db *store.DB, o server.Options, tweak func(*api.Deps)) *env {
	t.Helper()
	ctx := context.Background()
	clock := func() time.Time { return now }
	key, err := auth.LoadOrCreateKey(ctx, db, clock)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	d := api.Deps{DB: db, Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})), Now: clock,
		Authenticate: auth.NewVerifier(key, clock).Authenticate,
		Webhooks: &webhook.Store{DB: db, Now: clock, Policy: webhook.Policy{Resolver: webhook.StaticResolver{
			"hooks.example.com": {"93.184.215.14"}}}}}
	for _, org := range []directory.Organisation{
		{ID: "4000000", Name: "Contoso", Locations: []directory.Location{{ID: "4000001", Name: "Contoso UK"}, {ID: "4000002", Name: "Contoso DE"}}},
		{ID: "5000000", Name: "Fabrikam", Locations: []directory.Location{{ID: "5000001", Name: "Fabrikam US"}}},
	} {
		if err := (directory.Store{DB: db}).Put(ctx, org); err != nil {
			t.Fatal(err)
		}
	}
	svc := &link.Store{DB: db, Now: clock}
	if _, err := svc.Create(ctx, link.Caller{TenantID: tenantA, ObjectID: self, IDType: "user", RequestID: "seed"}, "4000001"); err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(&d)
	}
	srv := httptest.NewServer(server.New(d, o))
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, key: key, d: d, srv: srv, logs: logs}
}

func (e *env) mint(c auth.Claims) string {
	e.t.Helper()
	if c.IDType == "" {
		c.IDType = "user"
	}
	tok, err := e.key.Mint(c, now, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// do sends a request; headers are name, value pairs.
func (e *env) do(method, path, token, body string, headers ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// downDB is a PostgreSQL database that cannot be reached: the real driver and dialect, and a
// port nothing listens on.
func downDB(t *testing.T, up *store.DB) *store.DB {
	t.Helper()
	pool, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:1/none?connect_timeout=2&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return store.New(pool, up.Dialect, "down")
}

func schemaOf(t *testing.T, db *store.DB) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(context.Background(), `SELECT current_schema()`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func openPostgres(ctx context.Context, dsn string) (*store.DB, error) { return postgres.Open(ctx, dsn) }
