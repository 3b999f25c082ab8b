package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/web"
)

// The explain form accepts other providers' resource IDs and accounts (with their provider),
// asks /v1/explain with them, and still answers 400 without asking for anything else.
func TestExplainFormOtherProviders(t *testing.T) {
	db := storetest.SQLite(t)
	seed(t, db)
	d := api.Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		Authenticate: func(r *http.Request) (*http.Request, error) {
			id, ok := tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				return nil, http.ErrNoCookie
			}
			return r.WithContext(auth.WithIdentity(r.Context(), id)), nil
		}}
	mux := api.NewMux()
	var got url.Values
	mux.HandleFunc("GET /v1/explain", func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"partner":"L1","from":"2026-03-01T00:00:00Z","to":"2026-04-01T00:00:00Z","found":[{"location":"L1","org":"O1","association":"TAG","coverage":"1",`+
			`"chains":[[{"kind":"usage","id":"1 usage record(s) of aws sub-account 111111111111","window":"[2026-03-02T00:00:00Z, 2026-03-03T00:00:00Z)"},{"kind":"tag","id":"aws-apn-id=pc:prodA"},{"kind":"location","id":"L1"}]]}],`+
			`"reasons":[{"location":"L1","code":"unknown_account","text":"no aws account 111111111111 is declared"}]}`)
	})
	web.Register(mux, d)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := signIn(t, srv, "tok-partner")
	token := csrfRE.FindStringSubmatch(fetch(t, c, "GET", srv.URL+"/partners/L1/explain", nil, 200))[1]
	post := func(status int, kv ...string) string {
		t.Helper()
		v := url.Values{"csrf": {token}, "from": {"2026-03-01"}, "to": {"2026-04-01"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		got = nil
		return fetch(t, c, "POST", srv.URL+"/partners/L1/explain", v, status)
	}
	for _, res := range []string{"arn:aws:ec2:us-east-1:111111111111:instance/i-0abc",
		"//compute.googleapis.com/projects/my-proj/zones/europe-west1-b/instances/vm-1",
		"ocid1.instance.oc1.phx.abuw4ljrlsfiqw6vzzxb43vyypt4pkodawglp3wqxjqofakrwvou52gb6s5a"} {
		body := post(200, "q", res)
		if got.Get("resource") != res || got.Get("partner") != "L1" {
			t.Errorf("%s was asked as %v", res, got)
		}
		for _, want := range []string{`<span class="step">Usage records</span> <code>1 usage record(s) of aws sub-account 111111111111</code>`,
			`<span class="step">Tag</span> <code>aws-apn-id=pc:prodA</code>`, "<strong>TAG</strong> for location L1"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q:\n%s", res, want, body)
			}
		}
	}
	post(200, "q", "111111111111", "kind", "account", "provider", "aws")
	if got.Get("account") != "111111111111" || got.Get("provider") != "aws" {
		t.Errorf("an account was asked as %v", got)
	}
	// Garbage and incomplete input: 400, nothing asked.
	for _, bad := range [][]string{
		{"q", "not-a-guid"}, {"q", "arn:aws"}, {"q", "//example.com/x"}, {"q", "ocid1.x"}, {"q", "<script>alert(1)</script>"},
		{"q", "111111111111", "kind", "account"},                          // no provider
		{"q", "111111111111", "kind", "account", "provider", "microsoft"}, // Azure: a subscription
		{"q", "a b", "kind", "account", "provider", "aws"},
		{"q", "1", "kind", "account", "provider", "<b>"},
	} {
		body := post(400, bad...)
		if got != nil || !strings.Contains(body, "is neither") && !strings.Contains(body, "needs its provider") {
			t.Errorf("%v asked %v and showed:\n%s", bad, got, body)
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>") && bad[len(bad)-1] == "<b>" {
			t.Errorf("%v is echoed unescaped", bad)
		}
	}
}
