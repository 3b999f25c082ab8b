package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A panic answers 500 in the format of the path's surface and is logged with its stack; the
// access log still gets its line.
func TestPanicRecoveryPerSurface(t *testing.T) {
	var logs bytes.Buffer
	e := &edge{log: slog.New(slog.NewJSONHandler(&logs, nil)), next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler bug")
	})}
	srv := httptest.NewServer(e)
	defer srv.Close()
	for _, c := range []struct{ path, ctype, body string }{
		{"/providers/Microsoft.ManagementPartner/partners", "application/json; charset=utf-8", `"code":"InternalServerError"`},
		{"/v1/partners", "application/problem+json", `"status":500`},
		{"/partners/1", "text/html; charset=utf-8", "<h1>Internal Server Error</h1>"},
	} {
		logs.Reset()
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != c.ctype || !strings.Contains(body.String(), c.body) || strings.Contains(body.String(), "handler bug") {
			t.Errorf("GET %s = %d %s %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body.String())
		}
		var panicLine, accessLine map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			_ = json.Unmarshal([]byte(l), &m)
			switch m["msg"] {
			case "panic serving a request":
				panicLine = m
			case "request":
				accessLine = m
			}
		}
		if panicLine == nil || panicLine["panic"] != "handler bug" || !strings.Contains(panicLine["stack"].(string), "recover_test.go") {
			t.Errorf("GET %s: panic log line = %v", c.path, panicLine)
		}
		if accessLine == nil || accessLine["status"] != 500.0 {
			t.Errorf("GET %s: access line = %v", c.path, accessLine)
		}
	}
}
