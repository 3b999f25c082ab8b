package v1

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

// registerDirectoryAndLinks adds the directory, link views, events and webhooks routes and the
// OpenAPI document. Roles per route are stated next to each registration and in
// openapi/links.json.
func registerDirectoryAndLinks(mux *api.Mux, d api.Deps) {
	mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI) // public: describes the API, holds no data

	// Directory: operator manages; a partner reads its own organisation.
	mux.Handle("GET /v1/partners", Authed(d, nil, listPartners(d)))
	mux.Handle("GET /v1/partners/{id}", Authed(d, nil, getPartner(d)))
	mux.Handle("PUT /v1/partners/{id}", Authed(d, isOperator, putPartner(d)))

	// Links: the customer view (every link of a tenant: customer admin of that tenant) and the
	// partner view (every principal linked to a location: that partner), plus history.
	mux.Handle("GET /v1/tenants/{tenantId}/links", Authed(d, nil, tenantLinks(d)))
	mux.Handle("GET /v1/tenants/{tenantId}/links/{objectId}/history", Authed(d, nil, linkHistory(d)))
	mux.Handle("GET /v1/partners/{id}/links", Authed(d, nil, partnerLinks(d)))

	// Events and webhooks: customer admin of the tenant (or operator).
	mux.Handle("GET /v1/tenants/{tenantId}/events", Authed(d, nil, tenantEvents(d)))
	mux.Handle("GET /v1/tenants/{tenantId}/webhooks", Authed(d, nil, listWebhooks(d)))
	mux.Handle("POST /v1/tenants/{tenantId}/webhooks", Authed(d, nil, createWebhook(d)))
	mux.Handle("DELETE /v1/tenants/{tenantId}/webhooks/{webhookId}", Authed(d, nil, deleteWebhook(d)))
}

func isOperator(id *auth.Identity) bool { return id.IsOperator() }

// resolvePartner resolves a partner ID and checks that the caller may read it: an
// organisation ID covers all its locations, a location ID only itself (or its organisation's
// token). An unknown ID is 403 for everyone but operators, like an ID of someone else, so the
// directory cannot be probed; a database failure is answered as such (503), never as 403.
func resolvePartner(w http.ResponseWriter, r *http.Request, d api.Deps, id *auth.Identity, pid string) (directory.Partner, bool) {
	p, err := directory.Store{DB: d.DB}.Resolve(r.Context(), pid)
	if errors.Is(err, store.ErrNotFound) && !id.IsOperator() {
		forbidden(w, "partner "+pid)
		return p, false
	}
	if err != nil {
		WriteError(w, d, err)
		return p, false
	}
	loc := pid
	if p.Kind == directory.KindOrganisation {
		loc = ""
	}
	if !id.CanReadPartner(loc, p.OrgID) {
		forbidden(w, "partner "+pid)
		return p, false
	}
	return p, true
}

// forbidden answers 403 in one wording for "not yours" and "does not exist", so callers cannot
// probe which tenants or partners exist.
func forbidden(w http.ResponseWriter, what string) {
	WriteClass(w, api.Classify(auth.Deny("this token may not read "+what+"; it needs the customer-admin role of that tenant, the partner role for that ID, or operator")))
}

// pageParams reads ?after= (an opaque cursor: the last ID of the previous page) and ?limit=
// (1..1000, default 100).
func pageParams(w http.ResponseWriter, r *http.Request) (after string, limit int, ok bool) {
	limit = 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			WriteProblem(w, http.StatusBadRequest, "limit="+s+" is not a number from 1 to 1000")
			return "", 0, false
		}
		limit = n
	}
	return r.URL.Query().Get("after"), limit, true
}

// Page is a page of items; Next is the cursor for ?after= or empty on the last page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// ---- directory ----

// PartnerJSON is an organisation in the native API.
type PartnerJSON struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	TenantIDs []string       `json:"tenantIds"`
	Locations []LocationJSON `json:"locations"`
}

// LocationJSON is a partner location; Active empty means active at all times.
type LocationJSON struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Country string       `json:"country,omitempty"`
	Active  []WindowJSON `json:"active,omitempty"`
}

// WindowJSON is a half-open window; null ends are unbounded.
type WindowJSON struct {
	From *string `json:"from"`
	To   *string `json:"to"`
}

func partnerJSON(o directory.Organisation) PartnerJSON {
	p := PartnerJSON{ID: o.ID, Name: o.Name, TenantIDs: o.TenantIDs, Locations: []LocationJSON{}}
	if p.TenantIDs == nil {
		p.TenantIDs = []string{}
	}
	for _, l := range o.Locations {
		lj := LocationJSON{ID: l.ID, Name: l.Name, Country: l.Country}
		for _, w := range l.Active {
			lj.Active = append(lj.Active, WindowJSON{From: timeline.FormatOrNil(w.From), To: timeline.FormatOrNil(w.To)})
		}
		p.Locations = append(p.Locations, lj)
	}
	return p
}

func canReadOrg(id *auth.Identity, o directory.Organisation) bool {
	if id.CanReadPartner("", o.ID) {
		return true
	}
	for _, l := range o.Locations {
		if id.CanReadPartner(l.ID, "") {
			return true
		}
	}
	return false
}

func listPartners(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		if !id.IsOperator() && !id.Has(auth.RolePartner) {
			forbidden(w, "the partner directory")
			return
		}
		orgs, err := directory.Store{DB: d.DB}.List(r.Context())
		if err != nil {
			WriteError(w, d, err)
			return
		}
		out := []PartnerJSON{}
		for _, o := range orgs {
			if canReadOrg(id, o) {
				out = append(out, partnerJSON(o))
			}
		}
		WriteJSON(w, http.StatusOK, Page[PartnerJSON]{Items: out})
	}
}

func getPartner(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		o, err := directory.Store{DB: d.DB}.Get(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) && !id.IsOperator() {
			forbidden(w, "partner "+r.PathValue("id"))
			return
		}
		if err != nil {
			WriteError(w, d, err)
			return
		}
		if !canReadOrg(id, *o) {
			forbidden(w, "partner "+o.ID)
			return
		}
		WriteJSON(w, http.StatusOK, partnerJSON(*o))
	}
}

func putPartner(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, _ *auth.Identity) {
		var in PartnerJSON
		if err := decodeJSON(w, r, 1<<20, &in); err != nil {
			WriteProblem(w, http.StatusBadRequest, "request body: "+err.Error()+`; send {"name": ..., "tenantIds": [...], "locations": [{"id", "name", "country", "active": [{"from", "to"}]}]}`)
			return
		}
		if in.ID != "" && in.ID != r.PathValue("id") {
			WriteProblem(w, http.StatusBadRequest, "body id "+in.ID+" differs from the path ID "+r.PathValue("id")+"; omit it or make them equal")
			return
		}
		org := directory.Organisation{ID: r.PathValue("id"), Name: in.Name, TenantIDs: in.TenantIDs}
		for i, l := range in.Locations {
			loc := directory.Location{ID: l.ID, OrgID: org.ID, Name: l.Name, Country: l.Country}
			for j, wj := range l.Active {
				win, err := parseWindow(wj)
				if err != nil {
					WriteProblem(w, http.StatusBadRequest, "locations["+strconv.Itoa(i)+"].active["+strconv.Itoa(j)+"]: "+err.Error())
					return
				}
				loc.Active = append(loc.Active, win)
			}
			org.Locations = append(org.Locations, loc)
		}
		dir := directory.Store{DB: d.DB}
		if err := dir.Put(r.Context(), org); err != nil {
			WriteError(w, d, err)
			return
		}
		o, err := dir.Get(r.Context(), org.ID)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		WriteJSON(w, http.StatusOK, partnerJSON(*o))
	}
}

// ---- links ----

// LinkJSON is one principal's current link.
type LinkJSON struct {
	TenantID    string `json:"tenantId"`
	ObjectID    string `json:"objectId"`
	PartnerID   string `json:"partnerId"`
	PartnerName string `json:"partnerName,omitempty"`
	Version     int64  `json:"version"`
	State       string `json:"state"`
	CreatedTime string `json:"createdTime"`
	UpdatedTime string `json:"updatedTime"`
}

func linkJSON(l link.Link) LinkJSON {
	return LinkJSON{TenantID: l.TenantID, ObjectID: l.ObjectID, PartnerID: l.PartnerID, PartnerName: l.OrgName, Version: l.Version, State: l.State,
		CreatedTime: *timeline.FormatOrNil(l.CreatedTime.UnixNano()), UpdatedTime: *timeline.FormatOrNil(l.UpdatedTime.UnixNano())}
}

func linksJSON(ls []link.Link) []LinkJSON {
	out := make([]LinkJSON, len(ls))
	for i, l := range ls {
		out[i] = linkJSON(l)
	}
	return out
}

// stateFilter: ?state=Active (default), Deleted or all.
func stateFilter(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch s := r.URL.Query().Get("state"); strings.ToLower(s) {
	case "", "active":
		return "Active", true
	case "deleted":
		return "Deleted", true
	case "all":
		return "", true
	default:
		WriteProblem(w, http.StatusBadRequest, "state="+s+" is not one of Active, Deleted, all")
		return "", false
	}
}

func tenantLinks(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := strings.ToLower(r.PathValue("tenantId"))
		if !id.CanReadTenant(tenant) {
			forbidden(w, "tenant "+tenant)
			return
		}
		state, ok := stateFilter(w, r)
		after, limit, ok2 := pageParams(w, r)
		if !ok || !ok2 {
			return
		}
		links, err := (&link.Store{DB: d.DB}).TenantLinks(r.Context(), tenant, link.List{State: state, After: after, Limit: limit + 1})
		if err != nil {
			WriteError(w, d, err)
			return
		}
		WriteJSON(w, http.StatusOK, page(linksJSON(links), limit, func(l LinkJSON) string { return l.ObjectID }))
	}
}

func page[T any](items []T, limit int, key func(T) string) Page[T] {
	if len(items) > limit {
		items = items[:limit]
		return Page[T]{Items: items, Next: key(items[limit-1])}
	}
	return Page[T]{Items: items}
}

func partnerLinks(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		pid := r.PathValue("id")
		p, ok := resolvePartner(w, r, d, id, pid)
		if !ok {
			return
		}
		state, ok := stateFilter(w, r)
		after, limit, ok2 := pageParams(w, r)
		if !ok || !ok2 {
			return
		}
		links, err := (&link.Store{DB: d.DB}).PartnerLinks(r.Context(), p, link.List{State: state, After: after, Limit: limit + 1})
		if err != nil {
			WriteError(w, d, err)
			return
		}
		WriteJSON(w, http.StatusOK, page(linksJSON(links), limit, func(l LinkJSON) string { return l.TenantID + "/" + l.ObjectID }))
	}
}

// HistoryJSON is one append-only link change.
type HistoryJSON struct {
	ID            string `json:"id"`
	Action        string `json:"action"`
	FromPartnerID string `json:"fromPartnerId,omitempty"`
	ToPartnerID   string `json:"toPartnerId,omitempty"`
	Version       int64  `json:"version"`
	At            string `json:"at"`
	By            string `json:"byObjectId,omitempty"`
	RequestID     string `json:"requestId,omitempty"`
}

func linkHistory(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant, object := strings.ToLower(r.PathValue("tenantId")), strings.ToLower(r.PathValue("objectId"))
		self := strings.EqualFold(id.TenantID, tenant) && strings.EqualFold(id.ObjectID, object)
		if !self && !id.CanReadTenant(tenant) {
			forbidden(w, "the link history of "+tenant+"/"+object)
			return
		}
		history, err := (&link.Store{DB: d.DB}).History(r.Context(), tenant, object)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		items := make([]HistoryJSON, len(history))
		for i, h := range history {
			items[i] = HistoryJSON{ID: h.ID, Action: h.Action, FromPartnerID: h.FromPartnerID, ToPartnerID: h.ToPartnerID, Version: h.Version,
				At: *timeline.FormatOrNil(h.At.UnixNano()), By: h.By, RequestID: h.RequestID}
		}
		WriteJSON(w, http.StatusOK, Page[HistoryJSON]{Items: items})
	}
}

// ---- events ----

// EventJSON is one outbox event.
type EventJSON struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	TenantID   string          `json:"tenantId"`
	OccurredAt string          `json:"occurredAt"`
	Data       json.RawMessage `json:"data"`
}

func tenantEvents(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := strings.ToLower(r.PathValue("tenantId"))
		if !id.CanReadTenant(tenant) {
			forbidden(w, "the events of tenant "+tenant)
			return
		}
		after, limit, ok := pageParams(w, r)
		if !ok {
			return
		}
		events, err := (&link.Store{DB: d.DB}).Events(r.Context(), tenant, after, limit+1)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		items := make([]EventJSON, len(events))
		for i, e := range events {
			items[i] = EventJSON{ID: e.ID, Type: e.Type, TenantID: e.TenantID, OccurredAt: *timeline.FormatOrNil(e.OccurredAt), Data: json.RawMessage(e.Payload)}
			if !json.Valid(items[i].Data) {
				items[i].Data = json.RawMessage("null")
			}
		}
		WriteJSON(w, http.StatusOK, page(items, limit, func(e EventJSON) string { return e.ID }))
	}
}

// ---- webhooks ----

// WebhookJSON is a registered receiver. Secret is only returned when the webhook is created.
type WebhookJSON struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Active      bool   `json:"active"`
	CreatedTime string `json:"createdTime"`
	Secret      string `json:"secret,omitempty"`
}

func webhookJSON(h webhook.Webhook) WebhookJSON {
	return WebhookJSON{ID: h.ID, URL: h.URL, Active: h.Active, CreatedTime: *timeline.FormatOrNil(h.Created), Secret: h.Secret}
}

func listWebhooks(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := strings.ToLower(r.PathValue("tenantId"))
		if !id.CanReadTenant(tenant) {
			forbidden(w, "the webhooks of tenant "+tenant)
			return
		}
		list, err := d.WebhookStore().List(r.Context(), tenant)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		items := make([]WebhookJSON, len(list))
		for i, h := range list {
			items[i] = webhookJSON(h)
		}
		WriteJSON(w, http.StatusOK, Page[WebhookJSON]{Items: items})
	}
}

func createWebhook(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := strings.ToLower(r.PathValue("tenantId"))
		if !id.CanReadTenant(tenant) {
			forbidden(w, "the webhooks of tenant "+tenant)
			return
		}
		var in struct {
			URL string `json:"url"`
		}
		if err := decodeJSON(w, r, 64<<10, &in); err != nil {
			WriteProblem(w, http.StatusBadRequest, `request body: `+err.Error()+`; send {"url": "https://..."}`)
			return
		}
		h, err := d.WebhookStore().Create(r.Context(), tenant, in.URL)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		d.Log.Info("webhook added", "tenant", tenant, "by", id.ObjectID, "webhook", h.ID, "url", h.URL)
		w.Header().Set("Location", "/v1/tenants/"+tenant+"/webhooks/"+h.ID)
		WriteJSON(w, http.StatusCreated, webhookJSON(h))
	}
}

// deleteWebhook deactivates the webhook and cancels its pending deliveries; the webhook and
// its delivery records stay as the audit of what was sent.
func deleteWebhook(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		tenant := strings.ToLower(r.PathValue("tenantId"))
		if !id.CanReadTenant(tenant) {
			forbidden(w, "the webhooks of tenant "+tenant)
			return
		}
		if err := d.WebhookStore().Delete(r.Context(), tenant, r.PathValue("webhookId")); err != nil {
			WriteError(w, d, err)
			return
		}
		d.Log.Info("webhook deleted", "tenant", tenant, "by", id.ObjectID, "webhook", r.PathValue("webhookId"))
		w.WriteHeader(http.StatusNoContent)
	}
}
