package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	ef "github.com/partnerlink/partnerlink/internal/estatefile"
)

func write(t *testing.T, d *Dataset) (estate, usage []byte) {
	t.Helper()
	var e, u bytes.Buffer
	if err := d.WriteEstate(&e); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteUsage(&u); err != nil {
		t.Fatal(err)
	}
	return e.Bytes(), u.Bytes()
}

func TestSameSeedSameBytes(t *testing.T) {
	e1, u1 := write(t, Generate(7, Tiny))
	e2, u2 := write(t, Generate(7, Tiny))
	if !bytes.Equal(e1, e2) || !bytes.Equal(u1, u2) {
		t.Fatal("two generations with seed 7 differ")
	}
	e3, _ := write(t, Generate(8, Tiny))
	if sha256.Sum256(e1) == sha256.Sum256(e3) {
		t.Fatal("seeds 7 and 8 gave the same estate")
	}
}

func TestEstateParsesAndReferencesHold(t *testing.T) {
	d := Generate(1, Small)
	raw, _ := write(t, d)
	var f ef.File
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	locs, tenants, roles, trk := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	orgs := map[string]bool{}
	for _, p := range f.Partners {
		orgs[p.ID] = true
		for _, l := range p.Locations {
			locs[l.ID] = true
		}
	}
	for _, te := range f.Tenants {
		if tenants[te.ID] {
			t.Errorf("tenant %s twice", te.ID)
		}
		tenants[te.ID] = true
	}
	for _, r := range f.RoleDefinitions {
		roles[r.ID] = true
	}
	principals := map[string]string{}
	for _, p := range f.Principals {
		if !tenants[p.TenantID] {
			t.Errorf("principal %s in unknown tenant %s", p.ObjectID, p.TenantID)
		}
		principals[p.TenantID+"/"+p.ObjectID] = p.Type
	}
	for _, p := range f.Principals {
		for _, m := range p.MemberOf {
			if principals[p.TenantID+"/"+m.GroupID] != "Group" {
				t.Errorf("principal %s member of %s which is not a group of its tenant", p.ObjectID, m.GroupID)
			}
		}
	}
	subs := map[string]bool{}
	for _, s := range f.Subscriptions {
		subs[s.ID] = true
		if !tenants[s.TenantID] {
			t.Errorf("subscription %s in unknown tenant", s.ID)
		}
		if (s.Offer == "csp") != (s.CSPPartnerID != "") || s.CSPPartnerID != "" && !locs[s.CSPPartnerID] {
			t.Errorf("subscription %s offer %s reseller %q", s.ID, s.Offer, s.CSPPartnerID)
		}
		for _, x := range s.DPOR {
			if !locs[x.PartnerID] {
				t.Errorf("subscription %s DPOR of unknown location %s", s.ID, x.PartnerID)
			}
		}
	}
	kinds := map[string]int{}
	for _, a := range f.RoleAssignments {
		kinds[a.Kind]++
		if !roles[a.RoleDefinitionID] || principals[a.TenantID+"/"+a.PrincipalID] == "" {
			t.Errorf("assignment %s has unknown role or principal", a.ID)
		}
		if a.Kind != "eligible" && len(a.Activations) > 0 {
			t.Errorf("assignment %s: activations on %s", a.ID, a.Kind)
		}
	}
	if kinds["active"] == 0 || kinds["eligible"] == 0 {
		t.Errorf("kinds %v", kinds)
	}
	spans := map[string]string{}
	for _, l := range f.Links {
		if !locs[l.PartnerID] || principals[l.TenantID+"/"+l.ObjectID] == "" {
			t.Errorf("link %s/%s -> %s has unknown ends", l.TenantID, l.ObjectID, l.PartnerID)
		}
		k := l.TenantID + "/" + l.ObjectID
		if prev, ok := spans[k]; ok && (l.From == nil || prev == "" || *l.From < prev) {
			t.Errorf("link spans of %s overlap", k)
		}
		spans[k] = ""
		if l.To != nil {
			spans[k] = *l.To
		}
	}
	for _, tr := range f.TrackingIDs {
		trk[tr.GUID] = true
	}
	for _, dp := range f.Deployments {
		if !trk[dp.TrackingID] {
			t.Errorf("deployment of %s with unknown tracking ID", dp.ResourceID)
		}
	}
	for _, dl := range f.Delegations {
		if !tenants[dl.ManagingTenantID] || !tenants[dl.CustomerTenantID] {
			t.Errorf("delegation %s tenants unknown", dl.ID)
		}
	}
	offers := map[string]bool{}
	for _, s := range f.Subscriptions {
		offers[s.Offer] = true
	}
	if len(offers) != 4 || len(f.Delegations) == 0 || len(f.Deployments) == 0 {
		t.Errorf("missing shapes: offers %v, %d delegations, %d deployments", offers, len(f.Delegations), len(f.Deployments))
	}
	if c := d.Cases; !orgs[c.OrgIDAttempt.OrgID] || !locs[c.UnactivatedPIM.LocationID] || c.GroupChain.ResourceID == "" {
		t.Errorf("demo cases %+v", c)
	}
	// Every instant is on a whole hour.
	for _, s := range []string{string(raw)} {
		for _, part := range strings.Split(s, "\"") {
			if tm, err := time.Parse(time.RFC3339, part); err == nil && tm.Truncate(time.Hour) != tm {
				t.Errorf("%s is not on a whole hour", part)
			}
		}
	}
}

func TestUsageShapes(t *testing.T) {
	d := Generate(3, Small)
	_, raw := write(t, d)
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)-1) != d.Scale.UsageRows {
		t.Fatalf("%d rows, want %d", len(rows)-1, d.Scale.UsageRows)
	}
	seen := map[string]bool{}
	keys := map[string]bool{}
	for _, r := range rows[1:] {
		seen[r[10]] = true
		seen["pricing:"+r[11]] = true
		if r[13] != r[14] {
			seen["marketplace"] = true
		}
		if keys[r[15]] {
			t.Fatalf("key %s twice", r[15])
		}
		keys[r[15]] = true
		for _, c := range []int{0, 1} {
			tm, err := time.Parse(time.RFC3339, r[c])
			if err != nil || tm.Truncate(time.Hour) != tm || tm.Before(d.From) || tm.After(d.To) {
				t.Fatalf("time %q", r[c])
			}
		}
	}
	for _, want := range []string{"Usage", "Purchase", "Tax", "Credit", "Adjustment", "pricing:Dynamic", "pricing:Committed", "marketplace"} {
		if !seen[want] {
			t.Errorf("no %s rows", want)
		}
	}
}

func TestParseScale(t *testing.T) {
	s, err := ParseScale("bench/10")
	if err != nil || s.Tenants != 20 || s.UsageRows != 1_000_000 {
		t.Fatalf("%+v %v", s, err)
	}
	s, err = ParseScale("demo,rows=5000")
	if err != nil || s.UsageRows != 5000 {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := ParseScale("huge"); err == nil || !strings.Contains(err.Error(), "bench") {
		t.Fatalf("%v", err)
	}
}

func BenchmarkGenerateAndWrite(b *testing.B) {
	sc, _ := ParseScale("bench/10")
	for b.Loop() {
		d := Generate(1, sc)
		if err := d.WriteEstate(io.Discard); err != nil {
			b.Fatal(err)
		}
		if err := d.WriteUsage(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sc.UsageRows), "rows/op")
}

// A format verb given the wrong argument prints "%!d(string=...)" into the data instead of
// failing; the demo's SQL database IDs once carried one.
func TestNoFormatVerbErrors(t *testing.T) {
	e, u := write(t, Generate(1, Small))
	for name, b := range map[string][]byte{"estate": e, "usage": u} {
		if i := bytes.Index(b, []byte("%!")); i >= 0 {
			t.Fatalf("%s holds a format verb error: %q", name, b[max(0, i-60):min(len(b), i+60)])
		}
	}
}
