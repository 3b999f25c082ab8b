// Package webhook delivers link events from the events outbox to the webhooks a customer
// registered for its tenant.
//
// Delivery is at-least-once: every (webhook, event) pair becomes one webhook_deliveries row whose
// ID is the delivery ID receivers de-duplicate on. All state (attempts, next attempt time, last
// error) lives in that row, so a restarted server continues exactly where the old one stopped.
// Failed attempts are retried with exponential backoff until MaxAttempts, then marked failed.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Header names of a delivery request.
const (
	HeaderDelivery  = "Partnerlink-Delivery"  // delivery ID: the same on every retry of one delivery
	HeaderEvent     = "Partnerlink-Event"     // event type, e.g. link.created
	HeaderSignature = "Partnerlink-Signature" // t=<unix seconds>,v1=<hex HMAC-SHA256>
)

// Defaults of a Worker whose fields are zero.
const (
	DefaultMaxAttempts = 10
	DefaultBaseDelay   = 10 * time.Second
	DefaultMaxDelay    = time.Hour
	DefaultBatch       = 100
	DefaultTimeout     = 10 * time.Second // per delivery attempt
	DefaultPerTenant   = 4                // deliveries of one tenant in flight at once
	DefaultConcurrency = 32               // deliveries in flight at once, all tenants
	// minLease keeps other workers off a delivery while one worker sends it; the lease is
	// at least twice the timeout.
	minLease = 2 * time.Minute
)

// Worker fans events out to deliveries and sends the deliveries that are due. Deliveries run
// concurrently, at most PerTenant of one tenant and Concurrency in all, each bounded by
// Timeout: a tenant whose receivers are slow holds only its own slots, so another tenant's
// delivery waits for no more than one dispatch round, never for the slow receivers.
type Worker struct {
	DB          *store.DB
	Policy      Policy           // where deliveries may connect (see Policy)
	Client      *http.Client     // nil: Policy.Client(Timeout)
	Now         func() time.Time // injected clock; nil: time.Now
	Log         *slog.Logger     // nil: discard
	MaxAttempts int              // attempts before a delivery is marked failed
	BaseDelay   time.Duration    // delay after the first failure; doubles per failure
	MaxDelay    time.Duration    // cap of the backoff
	Batch       int              // deliveries read per dispatch round
	Timeout     time.Duration    // per attempt
	PerTenant   int              // in-flight deliveries per tenant
	Concurrency int              // in-flight deliveries in all

	once     sync.Once
	client   *http.Client
	mu       sync.Mutex
	inflight map[string]int // tenant -> deliveries being sent
	running  int
	result   Result // outcomes recorded since DeliverDue last reported
	idle     *sync.Cond
	wake     chan struct{}
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.client = w.Client
		if w.client == nil {
			w.client = w.Policy.Client(orDefault(w.Timeout, DefaultTimeout))
		}
		w.inflight = map[string]int{}
		w.idle = sync.NewCond(&w.mu)
		w.wake = make(chan struct{}, 1)
	})
}

func (w *Worker) store() *Store { return &Store{DB: w.DB, Policy: w.Policy, Now: w.Now} }

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// Backoff is the delay before the next attempt after the given number of failed attempts
// (1 = the first attempt failed): base, 2·base, 4·base, ... capped at max.
func Backoff(failed int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < failed; i++ {
		d *= 2
		if d >= max || d <= 0 {
			return max
		}
	}
	return min(d, max)
}

// Fanout creates a pending delivery for every event of a tenant and every active webhook of that
// tenant registered at or before the event occurred (a new webhook does not replay old history).
// It is idempotent. It returns how many deliveries it created.
func (w *Worker) Fanout(ctx context.Context) (int, error) {
	return w.store().fanout(ctx, w.now().UnixNano())
}

// Result counts what deliveries did.
type Result struct {
	Delivered, Retrying, Failed int
}

// DeliverDue sends every delivery that is due and waits until all of them are recorded; it
// reports what they did. Run does the same without waiting.
func (w *Worker) DeliverDue(ctx context.Context) (Result, error) {
	w.init()
	for {
		started, err := w.dispatch(ctx)
		w.mu.Lock()
		for w.running > 0 {
			w.idle.Wait()
		}
		w.mu.Unlock()
		if err != nil || started == 0 {
			w.mu.Lock()
			res := w.result
			w.result = Result{}
			w.mu.Unlock()
			return res, err
		}
	}
}

// dispatch claims due deliveries and starts sending them, within the per-tenant and overall
// bounds, without waiting for them. It returns how many it started.
func (w *Worker) dispatch(ctx context.Context) (int, error) {
	perTenant, total := orDefault(w.PerTenant, DefaultPerTenant), orDefault(w.Concurrency, DefaultConcurrency)
	w.mu.Lock()
	var busy []string
	for t, n := range w.inflight {
		if n >= perTenant {
			busy = append(busy, t)
		}
	}
	free := total - w.running
	w.mu.Unlock()
	if free <= 0 {
		return 0, nil
	}
	now := w.now()
	list, err := w.store().due(ctx, now.UnixNano(), perTenant, orDefault(w.Batch, DefaultBatch), busy)
	if err != nil {
		return 0, err
	}
	lease := max(minLease, 2*orDefault(w.Timeout, DefaultTimeout))
	started := 0
	for _, d := range list {
		w.mu.Lock()
		ok := w.inflight[d.TenantID] < perTenant && w.running < total
		w.mu.Unlock()
		if !ok {
			continue
		}
		claimed, err := w.store().claim(ctx, d, now.Add(lease).UnixNano())
		if err != nil {
			return started, err
		}
		if !claimed {
			continue
		}
		w.mu.Lock()
		w.inflight[d.TenantID]++
		w.running++
		w.mu.Unlock()
		started++
		go w.deliver(ctx, d, now)
	}
	return started, nil
}

// deliver sends one attempt and records it, then frees its slots.
func (w *Worker) deliver(ctx context.Context, d Delivery, now time.Time) {
	status, err := w.attempt(ctx, d, now)
	w.mu.Lock()
	if w.inflight[d.TenantID]--; w.inflight[d.TenantID] <= 0 {
		delete(w.inflight, d.TenantID)
	}
	w.running--
	switch {
	case err != nil:
		if ctx.Err() == nil {
			w.log().Error("webhook delivery not recorded", "delivery", d.ID, "error", err)
		}
	case status == "delivered":
		w.result.Delivered++
	case status == "failed":
		w.result.Failed++
	case status == "pending":
		w.result.Retrying++
	}
	w.idle.Broadcast()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) attempt(ctx context.Context, d Delivery, now time.Time) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, orDefault(w.Timeout, DefaultTimeout))
	sendErr := w.send(sctx, d, now)
	cancel()
	if ctx.Err() != nil {
		// Shutting down: not the receiver's failure. The claim's lease runs out and the
		// attempt is made again, by this server after a restart or by another.
		return "", ctx.Err()
	}
	attempts := d.Attempts + 1
	switch {
	case sendErr == nil:
		return "delivered", w.store().record(ctx, d.ID, "delivered", attempts, "", now.UnixNano())
	case attempts >= orDefault(w.MaxAttempts, DefaultMaxAttempts):
		w.log().Warn("webhook delivery failed for good", "delivery", d.ID, "url", d.URL, "attempts", attempts, "error", sendErr)
		return "failed", w.store().record(ctx, d.ID, "failed", attempts, truncate(sendErr.Error()), 0)
	default:
		next := now.Add(Backoff(attempts, orDefault(w.BaseDelay, DefaultBaseDelay), orDefault(w.MaxDelay, DefaultMaxDelay)))
		return "pending", w.store().record(ctx, d.ID, "pending", attempts, truncate(sendErr.Error()), next.UnixNano())
	}
}

func truncate(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

// Payload is the JSON body of a delivery.
type Payload struct {
	DeliveryID string `json:"deliveryId"`
	Event      Event  `json:"event"`
}

// Event is one outbox event as receivers see it.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	TenantID   string          `json:"tenantId"`
	OccurredAt string          `json:"occurredAt"`
	Data       json.RawMessage `json:"data"`
}

func (w *Worker) send(ctx context.Context, d Delivery, now time.Time) error {
	data := json.RawMessage(d.Payload)
	if !json.Valid(data) {
		data = json.RawMessage("null")
	}
	body, err := json.Marshal(Payload{DeliveryID: d.ID, Event: Event{
		ID: d.EventID, Type: d.EventType, TenantID: d.TenantID,
		OccurredAt: time.Unix(0, d.OccurredAt).UTC().Format(time.RFC3339Nano), Data: data,
	}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook URL %q: %w", d.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "partnerlink-webhook/1")
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderEvent, d.EventType)
	req.Header.Set(HeaderSignature, Sign(d.Secret, now.Unix(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return fmt.Errorf("receiver %s answered %s; redirects are not followed: register the final URL", d.URL, resp.Status)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver %s answered %s", d.URL, resp.Status)
	}
	return nil
}

// Run fans out and dispatches every interval (and whenever a delivery finishes) until ctx
// ends, then waits for the deliveries in flight. Errors are logged, not fatal: the next round
// retries.
func (w *Worker) Run(ctx context.Context, interval time.Duration) {
	w.init()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := w.Fanout(ctx); err != nil && ctx.Err() == nil {
			w.log().Error("webhook fan-out", "error", err)
		}
		if _, err := w.dispatch(ctx); err != nil && ctx.Err() == nil {
			w.log().Error("webhook delivery", "error", err)
		}
		select {
		case <-ctx.Done():
			w.mu.Lock()
			for w.running > 0 {
				w.idle.Wait()
			}
			w.mu.Unlock()
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Sign returns the signature header value for body sent at unix time ts:
// "t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>." + body)>". Including the time stops replays of
// old deliveries when receivers check it.
func Sign(secret string, ts int64, body []byte) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + mac(secret, ts, body)
}

func mac(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header for body, as a receiver would; tolerance bounds the age of
// the timestamp (0: not checked).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts int64
	var sig string
	var err error
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if ts, err = strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("signature header %q: t is not a Unix time", header)
			}
		case "v1":
			sig = v
		}
	}
	if ts == 0 || sig == "" {
		return fmt.Errorf("signature header %q: want t=<unix>,v1=<hex>", header)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return errors.New("signature does not match the body and secret")
	}
	if tolerance > 0 {
		if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
			return fmt.Errorf("signature time %d is %s away from now (tolerance %s)", ts, age, tolerance)
		}
	}
	return nil
}
