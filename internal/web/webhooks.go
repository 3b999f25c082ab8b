package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/partnerlink/partnerlink/internal/store"
)

// webhook is one row of the webhooks table (the columns of migration 0001, which the event
// deliverer reads). The secret is shown once, when the webhook is added.
type webhook struct {
	ID, URL, Created string
	Active           bool
}

func (s *server) listWebhooks(r *http.Request, tenant string) ([]webhook, error) {
	rows, err := s.d.DB.QueryContext(r.Context(), `SELECT id, url, active, created_at FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, s.d.DB.Translate(err)
	}
	defer rows.Close()
	var out []webhook
	for rows.Next() {
		var h webhook
		var active store.Bool
		var at int64
		if err := rows.Scan(&h.ID, &h.URL, &active, &at); err != nil {
			return nil, s.d.DB.Translate(err)
		}
		h.Active, h.Created = bool(active), fmtTime(at)
		out = append(out, h)
	}
	return out, s.d.DB.Translate(rows.Err())
}

// checkWebhookURL accepts https URLs, and http only for loopback receivers (local testing).
func checkWebhookURL(raw string) (string, string) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "The URL must be absolute, like https://hooks.example.com/partnerlink."
	}
	if u.Scheme == "http" {
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return "", "Use https; plain http is accepted only for localhost receivers."
		}
	}
	if u.User != nil {
		return "", "Put no credentials in the URL; sign deliveries with the secret instead."
	}
	return u.String(), ""
}

func (s *server) tenantForm(w http.ResponseWriter, r *http.Request, c *ctx) (string, bool) {
	tenant := strings.ToLower(r.PathValue("tenant"))
	if !c.ID.CanReadTenant(tenant) {
		s.fail(w, c, http.StatusForbidden, "Your token may change only its own tenant's webhooks.")
		return "", false
	}
	return tenant, true
}

func (s *server) addWebhook(w http.ResponseWriter, r *http.Request, c *ctx) {
	tenant, ok := s.tenantForm(w, r, c)
	if !ok {
		return
	}
	u, problem := checkWebhookURL(r.PostFormValue("url"))
	if problem != "" {
		s.renderCustomer(w, r, c, tenant, problem, http.StatusBadRequest, "")
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret := hex.EncodeToString(b)
	_, err := s.d.DB.ExecContext(r.Context(), `INSERT INTO webhooks (id, tenant_id, url, secret, active, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		store.NewID(), tenant, u, secret, true, s.d.Now().UnixNano())
	if err != nil {
		s.storeFail(w, c, s.d.DB.Translate(err))
		return
	}
	s.d.Log.Info("webhook added", "tenant", tenant, "by", c.ID.ObjectID, "url", u)
	s.renderCustomer(w, r, c, tenant, "Webhook added. Copy its signing secret now; it is not shown again.", http.StatusOK, secret)
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *ctx) {
	tenant, ok := s.tenantForm(w, r, c)
	if !ok {
		return
	}
	res, err := s.d.DB.ExecContext(r.Context(), `DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2`, r.PathValue("wid"), tenant)
	if err != nil {
		s.storeFail(w, c, s.d.DB.Translate(err))
		return
	}
	msg := "Webhook deleted."
	if n, _ := res.RowsAffected(); n == 0 {
		msg = "That webhook does not exist (already deleted?)."
	}
	s.d.Log.Info("webhook deleted", "tenant", tenant, "by", c.ID.ObjectID, "id", r.PathValue("wid"))
	s.renderCustomer(w, r, c, tenant, msg, http.StatusOK, "")
}
