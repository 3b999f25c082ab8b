package whatif

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/audit"
	"github.com/partnerlink/partnerlink/internal/facts"
	"github.com/partnerlink/partnerlink/internal/importlog"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Request is one what-if.
type Request struct {
	Period  timeline.Window
	Changes []Change
	// Partner, when set, is whose coverage audit entries are compared; otherwise a partner
	// caller's own IDs, or for an operator the organisations whose totals change.
	Partner  string
	Programs *attribution.Programs // nil: the shipped programs
	Caller   Caller
}

// Result is a what-if's answer. Before is the stored run's total; After is it plus the change
// the changes make (computed from the current facts, before and after the changes, over the
// usage of the tenants they touch); amounts are exact decimal strings.
type Result struct {
	From          string        `json:"from"`
	To            string        `json:"to"`
	RunID         string        `json:"run_id"`
	RunFinishedAt string        `json:"run_finished_at"`
	Changes       []Change      `json:"changes"`
	Tenants       []string      `json:"tenants"` // whose usage was attributed again
	Rows          []Row         `json:"rows"`
	Audit         []AuditChange `json:"audit"`
	Warnings      []string      `json:"warnings"`
}

// Row is one location, association and currency with any amount before or after.
type Row struct {
	PartnerID   string `json:"partner_id"`
	Association string `json:"association"` // PAL, CSP, DPOR, CUA, incentive:PEC, incentive:PAL
	Currency    string `json:"currency"`
	Before      string `json:"before"`
	After       string `json:"after"`
	Delta       string `json:"delta"`
	delta       money.Nanos
}

// Changed reports whether the row's amount changes.
func (r Row) Changed() bool { return r.delta != 0 }

// AuditChange is an audit entry that the changes create, resolve or change.
type AuditChange struct {
	Partner string         `json:"partner"`
	Change  string         `json:"change"` // new, resolved, changed
	Before  *audit.Finding `json:"before,omitempty"`
	After   *audit.Finding `json:"after,omitempty"`
}

// Run compares the changes against the stored run of the period. Nothing is written.
func Run(ctx context.Context, db *store.DB, req Request) (*Result, error) {
	if req.Period.Empty() {
		return nil, store.NewError(store.ErrInvalid, "the period is empty: from must be before to", nil)
	}
	res := &Result{From: timeline.Format(req.Period.From), To: timeline.FormatBound(req.Period.To), Changes: req.Changes,
		Tenants: []string{}, Rows: []Row{}, Audit: []AuditChange{}, Warnings: []string{}}
	s, err := audit.LoadFacts(ctx, db, req.Period)
	if err != nil {
		return nil, err
	}
	// Changes the caller may not simulate are refused before anything else is read, so a
	// refused caller learns nothing about the stored runs.
	after, touched, err := Apply(s, req.Changes, req.Caller)
	if err != nil {
		return nil, err
	}
	run, err := storedRun(ctx, db, req.Period)
	if err != nil {
		return nil, err
	}
	res.RunID, res.RunFinishedAt = run.id, timeline.Format(run.finished)
	res.Tenants = sortedKeys(touched)
	recs, err := usageOf(ctx, db, s, req.Period, touched)
	if err != nil {
		return nil, err
	}
	progs := req.Programs
	if progs == nil {
		progs = attribution.DefaultPrograms()
	}
	if v := progs.Version + "@" + progs.Hash[:12]; run.programs != v {
		res.Warnings = append(res.Warnings, fmt.Sprintf("run %s used programs %s, this what-if %s: the difference is in this what-if's programs", run.id, run.programs, v))
	}
	res.Warnings = append(res.Warnings, staleness(ctx, db, run)...)
	delta, err := difference(ctx, s, after, touched, progs, req.Period, recs)
	if err != nil {
		return nil, err
	}
	visible := func(string) bool { return true }
	if !req.Caller.Operator {
		visible = ownLocations(s, req.Caller.PartnerIDs)
	}
	res.Rows = rows(run.totals, delta, visible)
	partners, err := auditPartners(s, req, res.Rows)
	if err != nil {
		return nil, err
	}
	for _, p := range partners {
		changes, err := auditChanges(ctx, s, after, touched, req.Period, recs, p)
		if err != nil {
			return nil, err
		}
		res.Audit = append(res.Audit, changes...)
	}
	return res, nil
}

type stored struct {
	id       string
	finished int64
	programs string
	totals   map[key]money.Nanos
}

type key struct{ loc, assoc, cur string }

// storedRun reads the latest successful run of exactly the period.
func storedRun(ctx context.Context, db *store.DB, p timeline.Window) (*stored, error) {
	run, err := results.Latest(ctx, db, p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NewError(store.ErrNotFound, fmt.Sprintf("no attribution run of exactly [%s, %s) is stored; what-if compares with one: run `partnerlink attribute --from %s --to %s` first",
			timeline.Format(p.From), timeline.FormatBound(p.To), timeline.Format(p.From), timeline.FormatBound(p.To)), nil)
	}
	if err != nil {
		return nil, db.Translate(err)
	}
	r := &stored{id: run.ID, finished: run.FinishedAt, programs: run.ProgramsVersion, totals: map[key]money.Nanos{}}
	for k, n := range run.Totals {
		r.totals[key{k[0], k[1], k[2]}] = n
	}
	return r, nil
}

// staleness warns when facts or usage were imported, or links changed, after the run: its
// totals may then not be the current facts' ("before" is the stored run).
func staleness(ctx context.Context, db *store.DB, run *stored) []string {
	imports, _ := importlog.StartedAfter(ctx, db.DB, run.finished)
	links, _ := link.ChangesAfter(ctx, db.DB, run.finished)
	if imports == 0 && links == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d import(s) and %d link change(s) came after run %s: its totals (before) may not reflect the current facts; run attribute again for an exact baseline",
		imports, links, run.id)}
}

// usageOf reads the period's stored usage of the subscriptions of the touched tenants into
// memory (one batch): both sides of the difference, and the audits, read it.
func usageOf(ctx context.Context, db *store.DB, s *facts.Snapshot, period timeline.Window, touched map[string]bool) (attribution.Usage, error) {
	keep := map[string]bool{}
	for _, x := range s.Subscriptions {
		if touched[lower(x.TenantID)] {
			keep[lower(x.ID)] = true
		}
	}
	bb := usage.NewBatchBuilder()
	var r usage.Record
	// Only those subscriptions' records are read (and of the segments, only those that may
	// hold them): the month's other records are not decoded.
	err := usage.StreamLeanSubscriptions(ctx, db.DB, period, keep, func(b *usage.Batch) error {
		for i := 0; i < b.Len(); i++ {
			attributed(b, i, &r)
			bb.Add(&r)
		}
		return nil
	})
	if err != nil {
		return nil, db.Translate(err)
	}
	batch := bb.Batch()
	return func(yield func(*usage.Batch) error) error {
		if batch.Len() == 0 {
			return nil
		}
		return yield(batch)
	}, nil
}

// attributed copies into r what attribution reads of row i of a batch of usage.StreamLean.
func attributed(b *usage.Batch, i int, r *usage.Record) {
	*r = usage.Record{Start: b.Start[i], End: b.End[i], Cost: b.Cost[i],
		SubscriptionID: b.S(usage.ColSubscription, i), ResourceID: b.S(usage.ColResource, i), Service: b.S(usage.ColService, i),
		ServiceCategory: b.S(usage.ColServiceCategory, i), ChargeCategory: b.S(usage.ColChargeCategory, i),
		PricingCategory: b.S(usage.ColPricingCategory, i), CommitmentDiscountID: b.S(usage.ColCommitmentDiscount, i),
		Provider: b.S(usage.ColProvider, i), Publisher: b.S(usage.ColPublisher, i), Currency: b.S(usage.ColCurrency, i),
		ProviderID: b.S(usage.ColProviderID, i), HostProvider: b.S(usage.ColHostProvider, i), InvoiceIssuer: b.S(usage.ColInvoiceIssuer, i),
		BillingAccountID: b.S(usage.ColBillingAccount, i), SubAccountType: b.S(usage.ColSubAccountType, i), Region: b.S(usage.ColRegion, i),
		Unit: b.S(usage.ColUnit, i), Tags: b.S(usage.ColTags, i)}
}

// difference attributes the touched tenants' usage on the facts before and after the changes
// and returns after − before per location, association and currency.
func difference(ctx context.Context, before, after *facts.Snapshot, touched map[string]bool, progs *attribution.Programs, period timeline.Window, recs attribution.Usage) (map[key]money.Nanos, error) {
	d := map[key]money.Nanos{}
	for _, side := range []struct {
		s    *facts.Snapshot
		sign money.Nanos
	}{{before, -1}, {after, 1}} {
		_, sums, err := attribution.ComputeSums(ctx, audit.Slice(side.s, touched), progs, period, recs)
		if err != nil {
			return nil, err
		}
		for _, x := range sums {
			d[key{x.LocationID, x.Association, x.Currency}] += side.sign * x.Amount
		}
	}
	return d, nil
}

// rows is every location, association and currency with an amount before (the stored run) or
// a change, as visible to the caller, sorted.
func rows(before, delta map[key]money.Nanos, visible func(string) bool) []Row {
	keys := map[key]bool{}
	for k := range before {
		keys[k] = true
	}
	for k, n := range delta {
		if n != 0 {
			keys[k] = true
		}
	}
	out := []Row{}
	for k := range keys {
		if !visible(k.loc) {
			continue
		}
		b, d := before[k], delta[k]
		out = append(out, Row{PartnerID: k.loc, Association: k.assoc, Currency: k.cur, Before: b.String(), After: (b + d).String(), Delta: d.String(), delta: d})
	}
	slices.SortFunc(out, func(x, y Row) int {
		return cmp.Or(cmp.Compare(len(x.PartnerID), len(y.PartnerID)), cmp.Compare(x.PartnerID, y.PartnerID), cmp.Compare(x.Association, y.Association), cmp.Compare(x.Currency, y.Currency))
	})
	return out
}

// ownLocations reports whether a location belongs to the partner IDs (locations, or all
// locations of an organisation).
func ownLocations(s *facts.Snapshot, ids []string) func(string) bool {
	own := map[string]bool{}
	for _, o := range s.Organisations {
		for _, l := range o.Locations {
			if slices.Contains(ids, l.ID) || slices.Contains(ids, o.ID) {
				own[l.ID] = true
			}
		}
	}
	return func(loc string) bool { return own[loc] }
}

// auditPartners is whose audit entries to compare (see Request.Partner).
func auditPartners(s *facts.Snapshot, req Request, rows []Row) ([]string, error) {
	if req.Partner != "" {
		if !req.Caller.Operator && !ownLocations(s, req.Caller.PartnerIDs)(req.Partner) && !slices.Contains(req.Caller.PartnerIDs, req.Partner) {
			return nil, &DeniedError{fmt.Sprintf("partner %s is not yours; a partner may compare only its own audit", req.Partner)}
		}
		return []string{req.Partner}, nil
	}
	if !req.Caller.Operator { // its own IDs that the directory knows
		var out []string
		for _, id := range req.Caller.PartnerIDs {
			if _, err := audit.ResolveScope(s, id); err == nil {
				out = append(out, id)
			}
		}
		return out, nil
	}
	orgOf := map[string]string{}
	for _, o := range s.Organisations {
		for _, l := range o.Locations {
			orgOf[l.ID] = o.ID
		}
	}
	var out []string
	for _, r := range rows {
		if o := orgOf[r.PartnerID]; r.Changed() && o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	for _, c := range req.Changes {
		if o := orgOf[c.Location]; c.Op == OpAddLink && o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out, nil
}

// auditChanges compares partner's audit of the touched tenants before and after.
func auditChanges(ctx context.Context, before, after *facts.Snapshot, touched map[string]bool, period timeline.Window, recs attribution.Usage, partner string) ([]AuditChange, error) {
	q := audit.Query{Partner: partner, Period: period, Tenants: touched}
	var reps [2]*audit.Report
	for i, s := range []*facts.Snapshot{before, after} {
		rep, err := audit.Compute(ctx, s, q, recs)
		if err != nil {
			return nil, err
		}
		reps[i] = rep
	}
	id := func(f *audit.Finding) string {
		return strings.Join([]string{f.Kind, f.TenantID, f.SubscriptionID, f.Reason, f.Currency, f.PrincipalObjectID, f.LocationID}, "|")
	}
	was := map[string]*audit.Finding{}
	for _, f := range reps[0].Findings {
		was[id(f)] = f
	}
	var out []AuditChange
	for _, f := range reps[1].Findings {
		b, ok := was[id(f)]
		delete(was, id(f))
		switch {
		case !ok:
			out = append(out, AuditChange{Partner: partner, Change: "new", After: f})
		case b.Amount != f.Amount:
			out = append(out, AuditChange{Partner: partner, Change: "changed", Before: b, After: f})
		}
	}
	for _, f := range reps[0].Findings {
		if _, gone := was[id(f)]; gone {
			out = append(out, AuditChange{Partner: partner, Change: "resolved", Before: f})
		}
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
