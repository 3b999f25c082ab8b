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
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
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
	// claimLease keeps other workers off a delivery while one worker sends it.
	claimLease = 2 * time.Minute
)

// Worker fans events out to deliveries and sends the deliveries that are due.
type Worker struct {
	DB          *store.DB
	Client      *http.Client     // nil: a client with a 10 s timeout
	Now         func() time.Time // injected clock; nil: time.Now
	Log         *slog.Logger     // nil: discard
	MaxAttempts int              // attempts before a delivery is marked failed
	BaseDelay   time.Duration    // delay after the first failure; doubles per failure
	MaxDelay    time.Duration    // cap of the backoff
	Batch       int              // deliveries per DeliverDue call
}

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

func (w *Worker) client() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
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
// It is idempotent: (webhook_id, event_id) is unique. It returns how many deliveries it created.
func (w *Worker) Fanout(ctx context.Context) (int, error) {
	now := w.now().UnixNano()
	var n int
	err := w.DB.Tx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `
SELECT wh.id, e.id FROM events e
JOIN webhooks wh ON wh.tenant_id = e.tenant_id AND wh.active AND wh.created_at <= e.occurred_at
WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = wh.id AND d.event_id = e.id)
ORDER BY e.id, wh.id LIMIT 1000`)
		if err != nil {
			return err
		}
		var pairs [][2]string
		for rows.Next() {
			var p [2]string
			if err := rows.Scan(&p[0], &p[1]); err != nil {
				rows.Close()
				return err
			}
			pairs = append(pairs, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, p := range pairs {
			res, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, attempts, next_attempt_at)
VALUES ($1, $2, $3, 'pending', 0, $4) ON CONFLICT (webhook_id, event_id) DO NOTHING`, store.NewID(), p[0], p[1], now)
			if err != nil {
				return err
			}
			if c, _ := res.RowsAffected(); c > 0 {
				n++
			}
		}
		return nil
	})
	return n, w.DB.Translate(err)
}

// Result counts what one DeliverDue call did.
type Result struct {
	Delivered, Retrying, Failed int
}

type due struct {
	id, eventID, url, secret, eventType, tenantID, payload string
	occurredAt, nextAt                                     int64
	attempts                                               int
}

// DeliverDue sends every pending delivery whose next attempt time has come (up to Batch) and
// records the outcome. Each delivery is claimed first (its next attempt time moved forward by a
// lease, conditional on it being unchanged) so two workers never send the same attempt.
func (w *Worker) DeliverDue(ctx context.Context) (Result, error) {
	var res Result
	now := w.now()
	rows, err := w.DB.QueryContext(ctx, `
SELECT d.id, d.event_id, wh.url, wh.secret, e.type, e.tenant_id, e.payload, e.occurred_at, d.next_attempt_at, d.attempts
FROM webhook_deliveries d
JOIN webhooks wh ON wh.id = d.webhook_id
JOIN events e ON e.id = d.event_id
WHERE d.status = 'pending' AND d.next_attempt_at <= $1
ORDER BY d.next_attempt_at, d.id LIMIT $2`, now.UnixNano(), orDefault(w.Batch, DefaultBatch))
	if err != nil {
		return res, w.DB.Translate(err)
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.eventID, &d.url, &d.secret, &d.eventType, &d.tenantID, &d.payload, &d.occurredAt, &d.nextAt, &d.attempts); err != nil {
			rows.Close()
			return res, w.DB.Translate(err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, w.DB.Translate(err)
	}
	for _, d := range list {
		claimed, err := w.claim(ctx, d, now)
		if err != nil {
			return res, err
		}
		if !claimed {
			continue
		}
		sendErr := w.send(ctx, d, now)
		status, err := w.record(ctx, d, now, sendErr)
		if err != nil {
			return res, err
		}
		switch status {
		case "delivered":
			res.Delivered++
		case "failed":
			res.Failed++
		default:
			res.Retrying++
		}
	}
	return res, nil
}

func (w *Worker) claim(ctx context.Context, d due, now time.Time) (bool, error) {
	r, err := w.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $1
WHERE id = $2 AND status = 'pending' AND next_attempt_at = $3`, now.Add(claimLease).UnixNano(), d.id, d.nextAt)
	if err != nil {
		return false, w.DB.Translate(err)
	}
	n, err := r.RowsAffected()
	return n == 1, w.DB.Translate(err)
}

func (w *Worker) record(ctx context.Context, d due, now time.Time, sendErr error) (string, error) {
	attempts := d.attempts + 1
	var err error
	status := "pending"
	switch {
	case sendErr == nil:
		status = "delivered"
		_, err = w.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'delivered', attempts = $1, delivered_at = $2, last_error = '' WHERE id = $3`,
			attempts, now.UnixNano(), d.id)
	case attempts >= orDefault(w.MaxAttempts, DefaultMaxAttempts):
		status = "failed"
		w.log().Warn("webhook delivery failed for good", "delivery", d.id, "url", d.url, "attempts", attempts, "error", sendErr)
		_, err = w.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', attempts = $1, last_error = $2 WHERE id = $3`,
			attempts, truncate(sendErr.Error()), d.id)
	default:
		next := now.Add(Backoff(attempts, orDefault(w.BaseDelay, DefaultBaseDelay), orDefault(w.MaxDelay, DefaultMaxDelay)))
		_, err = w.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4`,
			attempts, next.UnixNano(), truncate(sendErr.Error()), d.id)
	}
	return status, w.DB.Translate(err)
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

func (w *Worker) send(ctx context.Context, d due, now time.Time) error {
	data := json.RawMessage(d.payload)
	if !json.Valid(data) {
		data = json.RawMessage("null")
	}
	body, err := json.Marshal(Payload{DeliveryID: d.id, Event: Event{
		ID: d.eventID, Type: d.eventType, TenantID: d.tenantID,
		OccurredAt: time.Unix(0, d.occurredAt).UTC().Format(time.RFC3339Nano), Data: data,
	}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook URL %q: %w", d.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "partnerlink-webhook/1")
	req.Header.Set(HeaderDelivery, d.id)
	req.Header.Set(HeaderEvent, d.eventType)
	req.Header.Set(HeaderSignature, Sign(d.secret, now.Unix(), body))
	resp, err := w.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver %s answered %s", d.url, resp.Status)
	}
	return nil
}

// Run fans out and delivers every interval until ctx ends. Errors are logged, not fatal: the
// next round retries.
func (w *Worker) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := w.Fanout(ctx); err != nil && ctx.Err() == nil {
			w.log().Error("webhook fan-out", "error", err)
		}
		if _, err := w.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			w.log().Error("webhook delivery", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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
