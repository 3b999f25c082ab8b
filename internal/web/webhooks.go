package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/partnerlink/partnerlink/internal/store"
)

// webhookRow is a webhook as the customer page lists it. The secret is shown once, when the
// webhook is added.
type webhookRow struct {
	ID, URL, Created string
	Active           bool
}

// listWebhooks reads through webhook.Store, the only owner of the webhook tables, as the API
// does: one URL policy, one secret format, one meaning of delete.
func (s *server) listWebhooks(r *http.Request, tenant string) ([]webhookRow, error) {
	list, err := s.d.WebhookStore().List(r.Context(), tenant)
	if err != nil {
		return nil, err
	}
	out := make([]webhookRow, len(list))
	for i, h := range list {
		out[i] = webhookRow{ID: h.ID, URL: h.URL, Created: fmtTime(h.Created), Active: h.Active}
	}
	return out, nil
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
	h, err := s.d.WebhookStore().Create(r.Context(), tenant, r.PostFormValue("url"))
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		status := http.StatusBadRequest
		if errors.Is(err, store.ErrConflict) {
			status = http.StatusConflict
		}
		s.renderCustomer(w, r, c, tenant, err.Error(), status, "")
		return
	}
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	s.d.Log.Info("webhook added", "tenant", tenant, "by", c.ID.ObjectID, "webhook", h.ID, "url", h.URL)
	s.renderCustomer(w, r, c, tenant, "Webhook added. Copy its signing secret now; it is not shown again.", http.StatusOK, h.Secret)
}

// deleteWebhook deactivates the webhook and cancels its pending deliveries; its delivery
// records stay (webhook.Store.Delete).
func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *ctx) {
	tenant, ok := s.tenantForm(w, r, c)
	if !ok {
		return
	}
	msg := "Webhook deleted; its pending deliveries are canceled."
	err := s.d.WebhookStore().Delete(r.Context(), tenant, r.PathValue("wid"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		msg = "That webhook does not exist."
	case err != nil:
		s.storeFail(w, c, err)
		return
	default:
		s.d.Log.Info("webhook deleted", "tenant", tenant, "by", c.ID.ObjectID, "webhook", r.PathValue("wid"))
	}
	s.renderCustomer(w, r, c, tenant, msg, http.StatusOK, "")
}
