package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/scope"
)

// explainPage runs the explain search box through the native API's GET /v1/explain with the
// session's own token, so the dashboard applies exactly the API's rules and permissions and
// shows what the engine explains, without a second implementation. The query names a resource
// ID (starts with "/") or a subscription GUID; the location is the page's partner ID.
func (s *server) explainPage(w http.ResponseWriter, r *http.Request, c *ctx) {
	pid := r.PathValue("id")
	ok, err := s.partnerAllowed(r, c.ID, pid)
	if err != nil {
		s.storeFail(w, c, err)
		return
	}
	if !ok {
		s.fail(w, c, http.StatusForbidden, "Your token may not read partner "+pid+".")
		return
	}
	// POST (with the session's CSRF token, like every form) keeps searches out of URLs and
	// logs; GET shows the empty form.
	q := strings.TrimSpace(r.PostFormValue("q"))
	v := s.base(c, "Explain for partner "+pid)
	v.PartnerID, v.Query, v.From, v.To = pid, q, r.PostFormValue("from"), r.PostFormValue("to")
	if q == "" {
		v.Message = "Enter a resource ID (/subscriptions/…/resourceGroups/…) or a subscription GUID."
		s.render(w, http.StatusOK, "explain", v)
		return
	}
	params := url.Values{"partner": {pid}}
	v.Kind = r.PostFormValue("kind")
	switch {
	case v.Kind == "record":
		params.Set("record", q)
	case scope.IsGUID(q):
		params.Set("subscription", q)
	case isARMResource(q):
		params.Set("resource", q)
	default:
		v.Error = "“" + q + "” is neither a subscription GUID (such as 8f2a…-…-…) nor an Azure resource ID " +
			"(/subscriptions/<GUID>/resourceGroups/…); for a usage record key choose “usage record key”."
		s.render(w, http.StatusBadRequest, "explain", v)
		return
	}
	for _, k := range []string{"from", "to", "at"} {
		if x := r.PostFormValue(k); x != "" {
			params.Set(k, x)
		}
	}
	_, token, _ := s.identify(r)
	req := httptest.NewRequestWithContext(r.Context(), http.MethodGet, "/v1/explain?"+params.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.explain.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	switch {
	case rec.Code == http.StatusOK:
		v.Explained = explained(body)
		s.nameSteps(r.Context(), v.Explained)
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "", "  ") == nil {
			v.Result = pretty.String()
		} else {
			v.Result = string(body)
		}
	case rec.Code == http.StatusNotFound && !bytes.Contains(body, []byte(`"status"`)):
		v.Error = "Explain is not available on this server (GET /v1/explain is not served)."
	default:
		var p struct {
			Detail string   `json:"detail"`
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(body, &p)
		v.Error = strings.TrimSpace(http.StatusText(rec.Code) + ": " + p.Detail + " " + strings.Join(p.Errors, "; "))
	}
	s.render(w, http.StatusOK, "explain", v)
}

// isARMResource: /subscriptions/<GUID> followed by nothing or more segments.
func isARMResource(q string) bool {
	rest, ok := strings.CutPrefix(strings.ToLower(q), "/subscriptions/")
	if !ok {
		return false
	}
	sub, _, _ := strings.Cut(rest, "/")
	return scope.IsGUID(sub)
}

// explanationView is the explanation (components/schemas/Explanation of the API) as the page
// shows it: each association with its chains as steps, each reason in words with its fix
// (attribution.Fix, the CLI's text).
type explanationView struct {
	Partner, From, To, Tenant string
	Found                     []foundView
	Reasons                   []reasonView
}

type foundView struct {
	Location, Org, Association, Coverage, AdminRole string
	Chains                                          [][]stepView
}

type stepView struct{ Kind, Label, ID, Name, Window, Note string }

type reasonView struct{ Location, Code, Text, Fix string }

// stepLabels are the chain's kinds in words.
var stepLabels = map[string]string{"link": "Partner admin link", "principal": "Linked identity", "group": "Through group",
	"assignment": "Role assignment", "delegation": "Lighthouse delegation", "role": "Role", "scope": "On scope", "resource": "Covers"}

// nameSteps gives the chain's identities and locations their names (a principal or group of
// the explanation's tenant, a location of the directory); an ID without a name stays bare.
// Names are decoration: a failed read leaves the IDs.
func (s *server) nameSteps(ctx context.Context, v *explanationView) {
	if v == nil || len(v.Found) == 0 {
		return
	}
	principals := map[string]string{}
	if v.Tenant != "" {
		if m, err := estate.PrincipalNames(ctx, s.d.DB, v.Tenant); err == nil {
			principals = m
		}
	}
	locations := map[string]string{}
	if ls, err := directory.LocationNames(ctx, s.d.DB); err == nil {
		for _, l := range ls {
			locations[l.ID] = l.Name
		}
	}
	for i := range v.Found {
		for _, c := range v.Found[i].Chains {
			for j := range c {
				switch c[j].Kind {
				case "principal", "group":
					c[j].Name = principals[strings.ToLower(c[j].ID)]
				case "link":
					c[j].Name = locations[c[j].ID]
				}
			}
		}
	}
}

func explained(body []byte) *explanationView {
	var e struct {
		Partner, From, To, Tenant string
		Found                     []struct {
			Location, Org, Association, Coverage string
			AdminRole                            string `json:"admin_role"`
			Chains                               [][]struct{ Kind, ID, Window, Note string }
		} `json:"found"`
		Reasons []struct{ Location, Code, Text string } `json:"reasons"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	v := &explanationView{Partner: e.Partner, From: e.From, To: e.To, Tenant: e.Tenant}
	for _, f := range e.Found {
		fv := foundView{Location: f.Location, Org: f.Org, Association: f.Association, Coverage: f.Coverage, AdminRole: f.AdminRole}
		for _, c := range f.Chains {
			var steps []stepView
			for _, st := range c {
				label := stepLabels[st.Kind]
				if label == "" {
					label = st.Kind
				}
				steps = append(steps, stepView{Kind: st.Kind, Label: label, ID: st.ID, Window: st.Window, Note: st.Note})
			}
			fv.Chains = append(fv.Chains, steps)
		}
		v.Found = append(v.Found, fv)
	}
	for _, r := range e.Reasons {
		v.Reasons = append(v.Reasons, reasonView{Location: r.Location, Code: r.Code, Text: r.Text, Fix: attribution.Fix(r.Code)})
	}
	return v
}
