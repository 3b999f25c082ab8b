// Package metrics holds partnerlink's Prometheus metrics and the hooks the HTTP server,
// importers and the attribution engine call. The server serves them at /metrics (serve
// --metrics=false turns that off); operators scrape them through their proxy as usual.
//
// Metrics are process-wide (a Prometheus registry is), so the hooks are plain functions that
// any package may call without wiring; a CLI command that exits records them for nobody.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Registry holds every partnerlink metric and the Go runtime and process collectors.
var Registry = prometheus.NewRegistry()

// Buckets of request durations: the link API's targets are milliseconds, reports and
// uploads take seconds.
var requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

var (
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "partnerlink_http_request_duration_seconds",
		Help:    "Duration of HTTP requests by route pattern (never the raw path).",
		Buckets: requestBuckets,
	}, []string{"route"})
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partnerlink_http_requests_total",
		Help: "HTTP requests by route pattern and status code (499: the client went away).",
	}, []string{"route", "code"})
	imports = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partnerlink_imports_total",
		Help: "Import runs by kind (usage, estate, ...) and result (ok, error).",
	}, []string{"kind", "result"})
	importDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "partnerlink_import_duration_seconds",
		Help:    "Duration of import runs by kind.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms .. about 45 min
	}, []string{"kind"})
	attributionRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partnerlink_attribution_runs_total",
		Help: "Attribution runs by result (ok, error).",
	}, []string{"result"})
	attributionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "partnerlink_attribution_run_duration_seconds",
		Help:    "Duration of attribution runs.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
	})
)

func init() {
	Registry.MustRegister(requestDuration, requests, imports, importDuration, attributionRuns, attributionDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the registry in the Prometheus exposition format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// ObserveRequest records one HTTP request. route is the route pattern ("unmatched" for a
// path no route serves), so the number of series stays bounded whatever paths clients send.
func ObserveRequest(route string, status int, d time.Duration) {
	requestDuration.WithLabelValues(route).Observe(d.Seconds())
	requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// ImportDone records an import run of kind ("usage", "estate", ...) that took d.
func ImportDone(kind string, d time.Duration, err error) {
	imports.WithLabelValues(kind, result(err)).Inc()
	importDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// AttributionRunDone records an attribution run that took d.
func AttributionRunDone(d time.Duration, err error) {
	attributionRuns.WithLabelValues(result(err)).Inc()
	attributionDuration.Observe(d.Seconds())
}

// WatchDB exports db's connection pool statistics (sql.DBStats: open, in use, idle, waits,
// closes) as go_sql_* metrics labelled db_name=name, until the returned function is called.
func WatchDB(db *store.DB, name string) (stop func()) {
	c := collectors.NewDBStatsCollector(db.DB, name)
	if err := Registry.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return func() {} // another server in this process watches the same name
		}
		panic("metrics: " + err.Error()) // a collector this package built is always valid
	}
	return func() { Registry.Unregister(c) }
}
