package attribution

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Explaining a resource of another provider (an AWS ARN, a Google Cloud full resource name, an
// OCI OCID). Unlike an Azure resource, whose PAL chain runs through the estate, such a resource
// is known only through its usage records: their tags, sub-account, billing account and seller
// decide TAG, RESALE and MARKETPLACE. Explain therefore reads the resource's records in the
// period and explains them, in groups of consecutive records that get the same answer.

// ReasonNoResourceUsage: no usage record of another provider's resource in the period.
const ReasonNoResourceUsage = "no_usage_for_resource"

// maxPointLookback is how far before an instant (--at) explain looks for the start of a record
// of another provider's resource that covers it: records are at most a month long.
const maxPointLookback = 32 * 24 * 3600 * 1_000_000_000

// ResourceProvider is the provider whose resource ID form id has: microsoft for an ARM ID under
// /subscriptions/<GUID>, aws for an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE), google
// for a full resource name (//SERVICE.googleapis.com/PATH), oracle for an OCID
// (ocid1.TYPE.REALM.[REGION].UNIQUE); "" for anything else.
func ResourceProvider(id string) string {
	if id == "" || len(id) > 4096 || strings.ContainsAny(id, " \t\r\n") {
		return ""
	}
	low := strings.ToLower(id)
	switch {
	case strings.HasPrefix(low, "/subscriptions/"):
		sub, _, _ := strings.Cut(low[len("/subscriptions/"):], "/")
		if scope.IsGUID(sub) {
			return usage.ProviderMicrosoft
		}
	case strings.HasPrefix(low, "arn:"):
		f := strings.SplitN(id, ":", 6)
		if len(f) == 6 && f[1] != "" && f[2] != "" && f[5] != "" {
			return usage.ProviderAWS
		}
	case strings.HasPrefix(low, "//"):
		host, path, ok := strings.Cut(low[2:], "/")
		if ok && strings.Trim(path, "/") != "" && strings.HasSuffix(host, ".googleapis.com") && len(host) > len(".googleapis.com") {
			return usage.ProviderGoogle
		}
	case strings.HasPrefix(low, "ocid1."):
		f := strings.Split(low, ".")
		if len(f) >= 5 && f[1] != "" && f[2] != "" && f[len(f)-1] != "" {
			return usage.ProviderOracle
		}
	}
	return ""
}

// isOtherProviderResource: a resource ID of a provider other than microsoft.
func isOtherProviderResource(id string) bool {
	p := ResourceProvider(id)
	return p != "" && p != usage.ProviderMicrosoft
}

// explainWindow is the query's period, or the second at At.
func explainWindow(q ExplainQuery) timeline.Window {
	if !q.Period.Empty() {
		return q.Period
	}
	return timeline.Window{From: q.At, To: q.At + 1_000_000_000}
}

// ResourceRecords are the stored usage records of q.Resource (compared case-insensitively, as
// resource keys) in the query's period: those whose charge starts in it, or with --at those
// whose charge covers the instant. In order of start, then key.
func ResourceRecords(ctx context.Context, db *store.DB, q ExplainQuery) ([]*usage.Record, error) {
	want := usage.ResourceKey(q.Resource)
	w := explainWindow(q)
	point := q.Period.Empty()
	read := w
	if point {
		read.From = w.From - maxPointLookback
	}
	var out []*usage.Record
	err := usage.Stream(ctx, db, read, func(b *usage.Batch) error {
		last, match := uint32(0), false
		for i := 0; i < b.Len(); i++ {
			// Rows of one resource share a dictionary index: compare each distinct one once.
			if d := b.Str[usage.ColResource][i]; i == 0 || d != last {
				last, match = d, sameResource(b.Dict[d], want)
			}
			if !match || point && !(b.Start[i] <= q.At && q.At < b.End[i]) {
				continue
			}
			r := &usage.Record{}
			b.Record(i, r)
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, db.Translate(err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// sameResource: id's resource key is want; most IDs are told apart by length first, without
// building their key.
func sameResource(id, want string) bool {
	id = strings.TrimRight(strings.TrimSpace(id), "/")
	return len(id) == len(want) && usage.ResourceKey(id) == want
}

// recordGroup is consecutive records of a resource that get the same answer.
type recordGroup struct {
	from, to int64
	n        int
	sub      string
	prov     string
	sig      string
	ex       *Explanation // the first record's explanation
}

// ExplainResourceSnapshot explains another provider's resource from its usage records recs (in
// order of start): for each group of consecutive records with the same answer, the TAG, RESALE
// and MARKETPLACE associations found (their chains start with the records) and every reason
// why not; PAL, CSP, DPOR and CUA do not apply to other providers.
func ExplainResourceSnapshot(s *facts.Snapshot, q ExplainQuery, recs []*usage.Record) (*Explanation, error) {
	ix := build(s)
	w := explainWindow(q)
	ex := &Explanation{Partner: q.Partner, Resource: q.Resource, From: timeline.Format(w.From), To: timeline.FormatBound(w.To)}
	if !explainLocations(s, ix, ex, q.Partner) {
		return ex, nil
	}
	prov := ResourceProvider(q.Resource)
	if len(recs) == 0 {
		ex.Reasons = append(ex.Reasons, Reason{Code: ReasonNoResourceUsage, Text: fmt.Sprintf(
			"no usage record of %s resource %s is stored for %s: another provider's resource is explained from its usage records (their tags, account and seller decide TAG, RESALE and MARKETPLACE)",
			prov, q.Resource, win(w))})
		return ex, nil
	}
	var groups []*recordGroup
	for _, rec := range recs {
		one := &Explanation{Locations: ex.Locations}
		rp := rules.ProviderID(rec)
		switch {
		case rec.ChargeCategory != usage.CategoryUsage:
			one.Reasons = append(one.Reasons, Reason{Code: ReasonNotConsumption, Text: fmt.Sprintf("the charge category is %q: only Usage is consumption; purchases, taxes, credits and refunds are never attributed", rec.ChargeCategory)})
		default:
			explainVersion2(s, ix, one, probeOf(rec))
		}
		sig := groupSignature(rec, rp, one)
		if g := lastGroup(groups); g != nil && g.sig == sig {
			g.n++
			g.to = max(g.to, rec.End)
			continue
		}
		groups = append(groups, &recordGroup{from: rec.Start, to: rec.End, n: 1, sub: rec.SubscriptionID, prov: rp, sig: sig, ex: one})
	}
	subs := map[string]bool{}
	var provs []string
	for _, g := range groups {
		subs[g.sub] = true
		if !slices.Contains(provs, g.prov) {
			provs = append(provs, g.prov)
		}
	}
	if len(subs) == 1 {
		ex.Subscription = groups[0].sub
	}
	for _, p := range provs {
		if !usage.IsMicrosoft(p) {
			ex.Reasons = append(ex.Reasons, Reason{Code: ReasonNotMicrosoft, Text: fmt.Sprintf("the resource's provider is %s, not microsoft, so PAL, CSP, DPOR and CUA do not apply (TAG, RESALE and MARKETPLACE do)", p)})
		}
	}
	for _, g := range groups {
		what := fmt.Sprintf("%d usage record(s) of %s sub-account %s", g.n, g.prov, orDash(g.sub))
		span := "[" + timeline.Format(g.from) + ", " + timeline.FormatBound(g.to) + ")"
		for _, f := range g.ex.Found {
			for i, c := range f.Chains {
				f.Chains[i] = append([]Step{{Kind: "usage", ID: what, Window: span}}, c...)
			}
			if len(f.Chains) == 0 {
				f.Chains = [][]Step{{{Kind: "usage", ID: what, Window: span}}}
			}
			ex.Found = append(ex.Found, f)
		}
		for _, r := range g.ex.Reasons {
			if len(groups) > 1 {
				r.Text = "records " + span + " (" + what + "): " + r.Text
			}
			ex.Reasons = append(ex.Reasons, r)
		}
	}
	return ex, nil
}

func lastGroup(gs []*recordGroup) *recordGroup {
	if len(gs) == 0 {
		return nil
	}
	return gs[len(gs)-1]
}

// groupSignature is what makes two records' answers the same: the fields version 2 reads and
// the associations and reasons found (codes, not texts, which name instants).
func groupSignature(rec *usage.Record, prov string, one *Explanation) string {
	var b strings.Builder
	for _, s := range []string{prov, rec.SubscriptionID, rec.BillingAccountID, rec.Tags, rec.Publisher, rec.HostProvider, rec.ChargeCategory} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, f := range one.Found {
		fmt.Fprintf(&b, "F%s/%s/%s\x00", f.Location, f.Association, f.Coverage)
	}
	for _, r := range one.Reasons {
		fmt.Fprintf(&b, "R%s/%s\x00", r.Location, r.Code)
	}
	return b.String()
}
