package v1

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/api"
	"github.com/partnerlink/partnerlink/internal/auth"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// registerVersion2 serves the facts of attribution.md version 2: partner identifiers (what a
// location is known by in other programs) and other providers' accounts with their resale
// history. The operator manages both; a partner reads its own (the identifiers of its
// locations, the accounts its locations resold).
//
//   - GET /v1/identifiers[?scheme=]: operator every identifier, a partner its own.
//   - GET /v1/partners/{id}/identifiers: the identifiers of a location or of every location of
//     an organisation (operator, or that partner).
//   - POST /v1/partners/{id}/identifiers {"scheme", "value", "from", "to"}: operator; {id} is a
//     location (an organisation ID is refused with its locations listed). A version starting
//     at the same instant is replaced; one overlapping another location's is 409.
//   - DELETE /v1/identifiers/{scheme}/{value}[?at=]: operator; ends the version in force at
//     `at` (default now), keeping history.
//   - GET /v1/accounts[?provider=], GET /v1/accounts/{provider}/{id}: operator, or a partner
//     for the accounts its locations resold.
//   - PUT /v1/accounts/{provider}/{id} {"kind", "name", "billingAccountId", "resale": [...]}:
//     operator; replaces the account and its resale windows.
func registerVersion2(mux *api.Mux, d api.Deps) {
	mux.Handle("GET /v1/identifiers", Authed(d, nil, listIdentifiers(d)))
	mux.Handle("DELETE /v1/identifiers/{scheme}/{value}", Authed(d, isOperator, closeIdentifier(d)))
	mux.Handle("GET /v1/partners/{id}/identifiers", Authed(d, nil, partnerIdentifiers(d)))
	mux.Handle("POST /v1/partners/{id}/identifiers", Authed(d, isOperator, putIdentifier(d)))
	mux.Handle("GET /v1/accounts", Authed(d, nil, listAccounts(d)))
	mux.Handle("GET /v1/accounts/{provider}/{id}", Authed(d, nil, getAccount(d)))
	mux.Handle("PUT /v1/accounts/{provider}/{id}", Authed(d, isOperator, putAccount(d)))
}

// IdentifierJSON is one identifier version.
type IdentifierJSON struct {
	PartnerID string  `json:"partnerId"`
	Scheme    string  `json:"scheme"`
	Value     string  `json:"value"`
	From      *string `json:"from"`
	To        *string `json:"to"`
}

func identifierJSON(x directory.Identifier) IdentifierJSON {
	return IdentifierJSON{PartnerID: x.LocationID, Scheme: x.Scheme, Value: x.Value, From: timeline.FormatOrNil(x.Window.From), To: timeline.FormatOrNil(x.Window.To)}
}

// locationOrgs maps every location to its organisation, to decide what a partner may read.
func locationOrgs(r *http.Request, d api.Deps) (map[string]string, error) {
	orgs, err := directory.Store{DB: d.DB}.List(r.Context())
	m := map[string]string{}
	for _, o := range orgs {
		for _, l := range o.Locations {
			m[l.ID] = o.ID
		}
	}
	return m, err
}

func listIdentifiers(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		if !id.IsOperator() && !id.Has(auth.RolePartner) {
			forbidden(w, "partner identifiers")
			return
		}
		list, err := directory.Store{DB: d.DB}.Identifiers(r.Context(), directory.IdentifierFilter{Scheme: r.URL.Query().Get("scheme")})
		if err != nil {
			WriteError(w, d, err)
			return
		}
		orgOf, err := locationOrgs(r, d)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		items := []IdentifierJSON{}
		for _, x := range list {
			if id.CanReadPartner(x.LocationID, orgOf[x.LocationID]) {
				items = append(items, identifierJSON(x))
			}
		}
		WriteJSON(w, http.StatusOK, Page[IdentifierJSON]{Items: items})
	}
}

func partnerIdentifiers(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		p, ok := resolvePartner(w, r, d, id, r.PathValue("id"))
		if !ok {
			return
		}
		f := directory.IdentifierFilter{LocationID: p.ID}
		if p.Kind == directory.KindOrganisation {
			f = directory.IdentifierFilter{OrgID: p.ID}
		}
		list, err := directory.Store{DB: d.DB}.Identifiers(r.Context(), f)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		items := []IdentifierJSON{}
		for _, x := range list {
			items = append(items, identifierJSON(x))
		}
		WriteJSON(w, http.StatusOK, Page[IdentifierJSON]{Items: items})
	}
}

func putIdentifier(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, _ *auth.Identity) {
		var in IdentifierJSON
		if err := decodeJSON(w, r, 1<<16, &in); err != nil {
			WriteProblem(w, http.StatusBadRequest, "request body: "+err.Error()+`; send {"scheme": "aws-product-code", "value": "...", "from": "2026-01-01", "to": null}`)
			return
		}
		if in.PartnerID != "" && in.PartnerID != r.PathValue("id") {
			WriteProblem(w, http.StatusBadRequest, "body partnerId "+in.PartnerID+" differs from the path ID "+r.PathValue("id")+"; omit it or make them equal")
			return
		}
		win, err := parseWindow(WindowJSON{From: in.From, To: in.To})
		if err != nil {
			WriteProblem(w, http.StatusBadRequest, err.Error())
			return
		}
		x := directory.Identifier{Scheme: in.Scheme, Value: in.Value, LocationID: r.PathValue("id"), Window: win}
		if err := (directory.Store{DB: d.DB}).PutIdentifier(r.Context(), x); err != nil {
			WriteError(w, d, err)
			return
		}
		x.Scheme, x.Value = strings.ToLower(strings.TrimSpace(x.Scheme)), strings.TrimSpace(x.Value)
		WriteJSON(w, http.StatusOK, identifierJSON(x))
	}
}

func closeIdentifier(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, _ *auth.Identity) {
		at := d.Now().UnixNano()
		if s := r.URL.Query().Get("at"); s != "" {
			t, err := timeline.ParseDateOrTime(s)
			if err != nil {
				WriteProblem(w, http.StatusBadRequest, "at: "+err.Error())
				return
			}
			at = t
		}
		x, err := directory.Store{DB: d.DB}.CloseIdentifier(r.Context(), r.PathValue("scheme"), r.PathValue("value"), at)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		WriteJSON(w, http.StatusOK, identifierJSON(x))
	}
}

// AccountJSON is an account of another provider with its resale windows.
type AccountJSON struct {
	Provider         string       `json:"provider"`
	ID               string       `json:"id"`
	Kind             string       `json:"kind"`
	Name             string       `json:"name"`
	BillingAccountID string       `json:"billingAccountId"`
	Resale           []ResaleJSON `json:"resale"`
}

// ResaleJSON is a window in which a location resold an account.
type ResaleJSON struct {
	PartnerID string  `json:"partnerId"`
	From      *string `json:"from"`
	To        *string `json:"to"`
}

func accountJSON(a account.Account) AccountJSON {
	out := AccountJSON{Provider: a.Provider, ID: a.ID, Kind: a.Kind, Name: a.Name, BillingAccountID: a.BillingAccountID, Resale: []ResaleJSON{}}
	for _, r := range a.Resale {
		out.Resale = append(out.Resale, ResaleJSON{PartnerID: r.LocationID, From: timeline.FormatOrNil(r.Window.From), To: timeline.FormatOrNil(r.Window.To)})
	}
	return out
}

// canReadAccount: the operator, or a partner one of whose locations resold the account.
func canReadAccount(id *auth.Identity, a account.Account, orgOf map[string]string) bool {
	if id.IsOperator() {
		return true
	}
	for _, r := range a.Resale {
		if id.CanReadPartner(r.LocationID, orgOf[r.LocationID]) {
			return true
		}
	}
	return false
}

func listAccounts(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		if !id.IsOperator() && !id.Has(auth.RolePartner) {
			forbidden(w, "accounts")
			return
		}
		list, err := account.Store{DB: d.DB}.List(r.Context(), account.Filter{Provider: r.URL.Query().Get("provider")})
		if err != nil {
			WriteError(w, d, err)
			return
		}
		orgOf, err := locationOrgs(r, d)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		items := []AccountJSON{}
		for _, a := range list {
			if canReadAccount(id, a, orgOf) {
				items = append(items, accountJSON(a))
			}
		}
		WriteJSON(w, http.StatusOK, Page[AccountJSON]{Items: items})
	}
}

func getAccount(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *auth.Identity) {
		what := "account " + r.PathValue("provider") + "/" + r.PathValue("id")
		a, err := account.Store{DB: d.DB}.Get(r.Context(), r.PathValue("provider"), r.PathValue("id"))
		if err != nil {
			if !id.IsOperator() {
				forbidden(w, what) // unknown and not yours look the same
				return
			}
			WriteError(w, d, err)
			return
		}
		orgOf, err := locationOrgs(r, d)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		if !canReadAccount(id, *a, orgOf) {
			forbidden(w, what)
			return
		}
		WriteJSON(w, http.StatusOK, accountJSON(*a))
	}
}

func putAccount(d api.Deps) func(http.ResponseWriter, *http.Request, *auth.Identity) {
	return func(w http.ResponseWriter, r *http.Request, _ *auth.Identity) {
		var in AccountJSON
		if err := decodeJSON(w, r, 1<<20, &in); err != nil {
			WriteProblem(w, http.StatusBadRequest, "request body: "+err.Error()+`; send {"kind": "sub" or "billing", "name": ..., "billingAccountId": ..., "resale": [{"partnerId", "from", "to"}]}`)
			return
		}
		a := account.Account{Provider: r.PathValue("provider"), ID: r.PathValue("id"), Kind: in.Kind, Name: in.Name, BillingAccountID: in.BillingAccountID}
		for i, x := range in.Resale {
			win, err := parseWindow(WindowJSON{From: x.From, To: x.To})
			if err != nil {
				WriteProblem(w, http.StatusBadRequest, "resale["+strconv.Itoa(i)+"]: "+err.Error())
				return
			}
			a.Resale = append(a.Resale, account.Resale{LocationID: x.PartnerID, Window: win})
		}
		s := account.Store{DB: d.DB}
		if err := s.Put(r.Context(), a); err != nil {
			WriteError(w, d, err)
			return
		}
		got, err := s.Get(r.Context(), a.Provider, a.ID)
		if err != nil {
			WriteError(w, d, err)
			return
		}
		WriteJSON(w, http.StatusOK, accountJSON(*got))
	}
}
