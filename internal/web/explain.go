package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
	if strings.HasPrefix(q, "/") {
		params.Set("resource", q)
	} else {
		params.Set("subscription", q)
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
		v.Found, v.Reasons = summarise(body)
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

// summarise turns the explanation (components/schemas/Explanation of the API) into one line
// per association found and per reason; the full JSON is shown below it.
func summarise(body []byte) (found, reasons []string) {
	var e struct {
		Found []struct {
			Location, Association, Coverage string
			AdminRole                       string `json:"admin_role"`
		} `json:"found"`
		Reasons []struct{ Location, Code, Text string } `json:"reasons"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil, nil
	}
	for _, f := range e.Found {
		line := f.Association + " for location " + f.Location
		if f.Coverage != "" {
			line += ", coverage " + f.Coverage
		}
		if f.AdminRole != "" {
			line += ", admin role " + f.AdminRole
		}
		found = append(found, line)
	}
	for _, r := range e.Reasons {
		line := r.Text
		if r.Location != "" {
			line = r.Location + ": " + line
		}
		if r.Code != "" {
			line += " (" + r.Code + ")"
		}
		reasons = append(reasons, line)
	}
	return found, reasons
}
