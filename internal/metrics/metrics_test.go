package metrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/partnerlink/partnerlink/internal/store"
)

// value gathers the registry and returns the value of the series of name whose labels
// include want, and how many series of name there are.
func value(t *testing.T, name string, want map[string]string) (float64, int) {
	t.Helper()
	mfs, err := Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			n++
			if matches(m, want) {
				switch {
				case m.Counter != nil:
					v = m.GetCounter().GetValue()
				case m.Gauge != nil:
					v = m.GetGauge().GetValue()
				case m.Histogram != nil:
					v = float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return v, n
}

func matches(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if w, ok := want[l.GetName()]; ok && w == l.GetValue() {
			found++
		}
	}
	return found == len(want)
}

func TestHooks(t *testing.T) {
	before, _ := value(t, "partnerlink_imports_total", map[string]string{"kind": "estate", "result": "error"})
	ImportDone("estate", time.Second, errors.New("bad file"))
	if got, _ := value(t, "partnerlink_imports_total", map[string]string{"kind": "estate", "result": "error"}); got != before+1 {
		t.Errorf("imports{estate,error} = %v, want %v", got, before+1)
	}
	before, _ = value(t, "partnerlink_attribution_runs_total", map[string]string{"result": "ok"})
	AttributionRunDone(2*time.Second, nil)
	if got, _ := value(t, "partnerlink_attribution_runs_total", map[string]string{"result": "ok"}); got != before+1 {
		t.Errorf("attribution runs{ok} = %v, want %v", got, before+1)
	}
	if got, _ := value(t, "partnerlink_attribution_run_duration_seconds", nil); got < 1 {
		t.Errorf("attribution run durations observed: %v", got)
	}
	ObserveRequest("GET /x/{id}", 418, time.Millisecond)
	if got, _ := value(t, "partnerlink_http_requests_total", map[string]string{"route": "GET /x/{id}", "code": "418"}); got != 1 {
		t.Errorf("requests{GET /x/{id},418} = %v, want 1", got)
	}
}

type noConn struct{}

func (noConn) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database here")
}
func (noConn) Driver() driver.Driver { return nil }

// The pool's statistics are exported while watched, under the database's name, and only
// then; a second watcher of the same name does not panic.
func TestWatchDB(t *testing.T) {
	db := sql.OpenDB(noConn{})
	defer db.Close()
	db.SetMaxOpenConns(7)
	stop := WatchDB(&store.DB{DB: db}, "metrics-test")
	if v, n := value(t, "go_sql_max_open_connections", map[string]string{"db_name": "metrics-test"}); n != 1 || v != 7 {
		t.Fatalf("go_sql_max_open_connections = %v (%d series) while watched, want 7", v, n)
	}
	WatchDB(&store.DB{DB: db}, "metrics-test")()
	stop()
	if _, n := value(t, "go_sql_max_open_connections", nil); n != 0 {
		t.Fatalf("%d series after stop, want 0", n)
	}
}
