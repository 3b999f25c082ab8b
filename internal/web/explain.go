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
	"github.com/partnerlink/partnerlink/internal/usage"
)

// explainPage runs the explain search box through the native API's GET /v1/explain with the
// session's own token, so the dashboard applies exactly the API's rules and permissions and
// shows what the engine explains, without a second implementation. The query names a resource
// ID (an ARM ID, an AWS ARN, a Google Cloud resource name or an OCI OCID), a subscription GUID,
// a usage record key (kind "record") or another provider's account (kind "account", with its
// provider); the location is the page's partner ID.
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
		v.Message = "Enter a resource ID (/subscriptions/…/resourceGroups/…, an AWS ARN, a Google Cloud resource name //….googleapis.com/… or an OCI OCID), " +
			"a subscription GUID, a usage record key, or another provider's account with its provider."
		s.render(w, http.StatusOK, "explain", v)
		return
	}
	params := url.Values{"partner": {pid}}
	v.Kind = r.PostFormValue("kind")
	v.Provider = strings.TrimSpace(r.PostFormValue("provider"))
	switch {
	case v.Kind == "record":
		params.Set("record", q)
	case v.Kind == "account":
		if !isAccountProvider(v.Provider) || !isAccountID(q) {
			v.Error = "An account of another provider needs its provider (aws, google, oracle, … — not microsoft: Azure subscriptions are explained by GUID) " +
				"and its ID (letters, digits, “-”, “_”, “.”, “:”, “/”); got provider “" + v.Provider + "” and account “" + q + "”."
			s.render(w, http.StatusBadRequest, "explain", v)
			return
		}
		params.Set("account", q)
		params.Set("provider", v.Provider)
	case scope.IsGUID(q):
		params.Set("subscription", q)
	case isARMResource(q) || attribution.ResourceProvider(q) != "":
		params.Set("resource", q)
	default:
		v.Error = "“" + q + "” is neither a subscription GUID (such as 8f2a…-…-…) nor a resource ID: an Azure ID " +
			"(/subscriptions/<GUID>/resourceGroups/…), an AWS ARN (arn:aws:ec2:us-east-1:111111111111:instance/i-0abc), " +
			"a Google Cloud resource name (//compute.googleapis.com/projects/…) or an OCI OCID (ocid1.instance.oc1.…); " +
			"for a usage record key choose “usage record key”, for an account “account of another provider”."
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

// isAccountProvider: a provider name the account form accepts (any but microsoft, whose
// accounts are subscriptions).
func isAccountProvider(p string) bool {
	if p == "" || len(p) > 64 || usage.IsMicrosoft(usage.NormalizeProvider(p)) {
		return false
	}
	for _, c := range p {
		if !(c == ' ' || c == '-' || c == '.' || c == ',' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// isAccountID: an account ID as providers write them (AWS 123456789012, Google billing
// 01ABCD-23EF45-6789AB or a project ID, OCI OCIDs), nothing that could not be one.
func isAccountID(q string) bool {
	if q == "" || len(q) > 512 {
		return false
	}
	for _, c := range q {
		if !(c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
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
	"assignment": "Role assignment", "delegation": "Lighthouse delegation", "role": "Role", "scope": "On scope", "resource": "Covers",
	// Version 2's chains: the records of another provider's resource, then the tag, account or
	// seller, the identifier and the location.
	"usage": "Usage records", "tag": "Tag", "account": "Resold account", "seller": "Marketplace seller", "identifier": "Registered identifier",
	"location": "Location"}

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
