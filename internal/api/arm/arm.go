// Package arm serves the Microsoft.ManagementPartner-compatible API
// (/providers/Microsoft.ManagementPartner, api-version 2018-02-01), so that Azure's own
// clients (SDKs, az managementpartner, PowerShell) work against partnerlink unchanged.
//
// Roles: every operation acts on the caller's own link (role principal: any authenticated
// identity); nobody, not even an operator, can change another principal's link here.
package arm

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/link"
)

// APIVersion is the only version the real service offers.
const APIVersion = "2018-02-01"

const prefix = "/providers/microsoft.managementpartner"

// Routes are the ARM operations as route patterns (the access log's and metrics' route
// label). Paths are matched case-insensitively, as Azure does, so they are not registered on
// the server's mux: the server sends every /providers/ path here (api.Surface).
var Routes = []string{
	"GET " + prefix + "/operations",
	"GET " + prefix + "/partners",
	"GET " + prefix + "/partners/{partnerId}",
	"PUT " + prefix + "/partners/{partnerId}",
	"PATCH " + prefix + "/partners/{partnerId}",
	"DELETE " + prefix + "/partners/{partnerId}",
}

// Handler serves the ARM API.
func Handler(d api.Deps) http.Handler {
	return handler{d: d, svc: &link.Store{DB: d.DB, Now: d.Now, Cache: d.LinkCache}}
}

type handler struct {
	d   api.Deps
	svc *link.Store
}

type armError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e armError
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// WriteClass writes a classified error in ARM's error shape (a 503 carries Retry-After, set by
// api.Fail, which Azure's SDKs honour when they retry).
func WriteClass(w http.ResponseWriter, c api.Class) {
	msg := c.Message
	if c.Kind == api.KindInternal {
		if id := api.InfoOf(w).ID; id != "" {
			msg += " (request " + id + ")"
		}
	}
	writeError(w, c.Status, c.Code, msg)
}

// query returns the value of a query parameter whose name matches case-insensitively:
// Azure accepts Api-Version as well as api-version.
func query(r *http.Request, name string) string {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := api.Info(r.Context())
	path := strings.TrimRight(strings.ToLower(r.URL.Path), "/")
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		writeError(w, http.StatusNotFound, "InvalidResourceNamespace", "the resource namespace in "+r.URL.Path+" is not served here; use /providers/Microsoft.ManagementPartner")
		return
	}
	var partnerID string
	switch {
	case rest == "/operations":
		info.Route = "GET " + prefix + "/operations"
	case rest == "/partners":
		info.Route = r.Method + " " + prefix + "/partners"
	case strings.HasPrefix(rest, "/partners/") && !strings.Contains(rest[len("/partners/"):], "/"):
		info.Route = r.Method + " " + prefix + "/partners/{partnerId}"
		// The ID keeps the caller's spelling (IDs are digits; case does not matter).
		trimmed := strings.TrimRight(r.URL.Path, "/")
		partnerID = trimmed[strings.LastIndex(trimmed, "/")+1:]
	default:
		writeError(w, http.StatusNotFound, "NotFound", "no such resource: "+r.URL.Path)
		return
	}
	if v := query(r, "api-version"); v != APIVersion {
		writeError(w, http.StatusBadRequest, "InvalidApiVersionParameter",
			"the api-version '"+v+"' is invalid. The supported version is '"+APIVersion+"'.")
		return
	}
	if rest == "/operations" {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported on operations; use GET")
			return
		}
		h.operations(w)
		return
	}
	if h.d.Authenticate == nil {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "authentication is not configured on this server")
		return
	}
	r2, err := h.d.Authenticate(r)
	if err != nil {
		info.Caller = api.Unauthenticated(r)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized", err.Error())
		return
	}
	id, _ := auth.FromContext(r2.Context())
	info.Caller = id.Kind()
	reqID := info.ID
	if reqID == "" {
		reqID = api.NewRequestID()
	}
	caller := link.Caller{TenantID: id.TenantID, ObjectID: id.ObjectID, IDType: id.Type, RequestID: reqID}
	ctx := r2.Context()
	if partnerID == "" && r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" needs a partner ID: /providers/Microsoft.ManagementPartner/partners/{partnerId}")
		return
	}
	var l *link.Link
	switch r.Method {
	case http.MethodGet:
		l, err = h.svc.Get(ctx, caller, partnerID)
	case http.MethodPut:
		l, err = h.svc.Create(ctx, caller, partnerID)
	case http.MethodPatch:
		l, err = h.svc.Update(ctx, caller, partnerID)
	case http.MethodDelete:
		if err = h.svc.Delete(ctx, caller, partnerID); err == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
	default:
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported; use GET, PUT, PATCH or DELETE")
		return
	}
	if err != nil {
		WriteClass(w, api.Fail(h.d.Log, w, err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(response(l))
}

type properties struct {
	PartnerID   string `json:"partnerId"`
	PartnerName string `json:"partnerName"`
	TenantID    string `json:"tenantId"`
	ObjectID    string `json:"objectId"`
	Version     int64  `json:"version"`
	CreatedTime string `json:"createdTime"`
	UpdatedTime string `json:"updatedTime"`
	State       string `json:"state"`
}

type partnerResponse struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	Etag       int64      `json:"etag"`
	Properties properties `json:"properties"`
}

func response(l *link.Link) partnerResponse {
	return partnerResponse{
		ID: prefix + "/partners/" + strings.ToLower(l.PartnerID), Type: "Microsoft.ManagementPartner/partners", Name: l.PartnerID,
		Etag: l.Version,
		Properties: properties{PartnerID: l.PartnerID, PartnerName: l.PartnerName, TenantID: l.TenantID, ObjectID: l.ObjectID,
			Version: l.Version, CreatedTime: l.CreatedTime.UTC().Format(time.RFC3339Nano), UpdatedTime: l.UpdatedTime.UTC().Format(time.RFC3339Nano), State: l.State},
	}
}

func (h handler) operations(w http.ResponseWriter) {
	type display struct {
		Provider    string `json:"provider"`
		Resource    string `json:"resource"`
		Operation   string `json:"operation"`
		Description string `json:"description"`
	}
	type op struct {
		Name    string  `json:"name"`
		Display display `json:"display"`
	}
	mk := func(verb, operation, description string) op {
		return op{"Microsoft.ManagementPartner/partners/" + verb, display{"Microsoft ManagementPartner", "ManagementPartner", operation, description}}
	}
	body := struct {
		Value    []op    `json:"value"`
		NextLink *string `json:"nextLink"`
	}{Value: []op{
		mk("read", "Get ManagementPartner", "Read All ManagementPartner"),
		mk("write", "Create ManagementPartner", "Create any ManagementPartner"),
		mk("action", "Update ManagementPartner", "Update any ManagementPartner"),
		mk("delete", "Delete ManagementPartner", "Delete any ManagementPartner"),
	}}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}
