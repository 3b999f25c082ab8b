package report

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/importlog"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Operator is the operator's overview.
type Operator struct {
	From         string     `json:"from"`
	To           string     `json:"to"`
	Programs     []GroupRow `json:"programs"`
	Associations []GroupRow `json:"associations"`
	// ByProvider (version 2): attributed consumption per provider and association type.
	ByProvider        []ProviderRow     `json:"byProvider"`
	TopPartners       []GroupRow        `json:"topPartners"`
	Runs              []Run             `json:"runs"`
	Imports           []Import          `json:"imports"`
	Warnings          []Warning         `json:"warnings"`
	Directory         []PartnerName     `json:"directory"`
	OrganisationNames map[string]string `json:"organisationNames"`
}

// ProviderRow is the attributed consumption of one provider and association type.
type ProviderRow struct {
	Provider    string `json:"provider"`
	Association string `json:"association"`
	Currency    string `json:"currency"`
	Amount      string `json:"amount"`
}

// Run is one attribution run.
type Run struct {
	ID              string          `json:"id"`
	PeriodFrom      string          `json:"periodFrom"`
	PeriodTo        string          `json:"periodTo"`
	StartedAt       string          `json:"startedAt"`
	FinishedAt      string          `json:"finishedAt"`
	RequestedBy     string          `json:"requestedBy"`
	ProgramsVersion string          `json:"programsVersion"`
	AttributionRows int64           `json:"attributionRows"`
	IncentiveRows   int64           `json:"incentiveRows"`
	Status          string          `json:"status"`
	Diff            json.RawMessage `json:"diff"`
}

// Import is one import.
type Import struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	FileName  string `json:"fileName"`
	Read      int64  `json:"rowsRead"`
	Added     int64  `json:"rowsAdded"`
	Duplicate int64  `json:"rowsDuplicate"`
	Rejected  int64  `json:"rowsRejected"`
	StartedAt string `json:"startedAt"`
	Status    string `json:"status"`
}

// Warning is one data-quality finding. Kind is one of WarnUnknownSubscription,
// WarnUnknownRole, WarnDeletedPrincipalLink.
type Warning struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

// Data-quality warning kinds.
const (
	WarnUnknownSubscription  = "usage-for-unknown-subscription"
	WarnUnknownRole          = "assignment-to-unknown-role"
	WarnDeletedPrincipalLink = "link-of-deleted-principal"
	// WarnTagNamesNoPartner (version 2): a tag value that matched a tag rule names no location.
	WarnTagNamesNoPartner = "tag-names-no-partner"
)

// OperatorOptions bound the operator report.
type OperatorOptions struct {
	Period timeline.Window
	// Top is how many partners to list (default 10); Limit caps runs, imports and each kind of
	// warning (default 50) so the page stays readable on a large estate.
	Top, Limit int
	// Now decides which principals are deleted (no version valid at Now).
	Now int64
}

// OperatorReport builds the operator report.
func OperatorReport(ctx context.Context, db *store.DB, o OperatorOptions) (*Operator, error) {
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.Limit <= 0 {
		o.Limit = 50
	}
	from, to := bound(o.Period)
	r := &Operator{From: when(from), To: when(to), Runs: []Run{}, Imports: []Import{}, Warnings: []Warning{}, Directory: []PartnerName{}}
	progs, assocs, parts := sums{}, sums{}, sums{}
	tot, err := results.Operator(ctx, db, from, to)
	if err != nil {
		return nil, queryErr(db, "operator totals", err)
	}
	for _, x := range [...]struct {
		s  sums
		ks []results.KeyAmount
	}{{progs, tot.Programs}, {assocs, tot.Associations}, {parts, tot.Locations}} {
		for _, k := range x.ks {
			x.s.add(k.Key, k.Currency, k.Amount)
		}
	}
	dir, err := directory.LocationNames(ctx, db)
	if err != nil {
		return nil, queryErr(db, "operator directory", err)
	}
	locNames := map[string]string{}
	for _, l := range dir {
		locNames[l.ID] = l.Name
		r.Directory = append(r.Directory, PartnerName{LocationID: l.ID, Name: l.Name, OrgID: l.OrgID})
	}
	r.Programs, r.Associations = groups(progs, nil), groups(assocs, nil)
	byProv := sums{}
	if err := results.Providers(ctx, db, nil, from, to, func(x results.ProviderRow) error {
		byProv.add(x.Provider+"\x00"+x.Association, x.Currency, x.Amount)
		return nil
	}); err != nil {
		return nil, queryErr(db, "operator providers", err)
	}
	r.ByProvider = []ProviderRow{}
	for _, g := range groups(byProv, nil) {
		p, a, _ := strings.Cut(g.Key, "\x00")
		r.ByProvider = append(r.ByProvider, ProviderRow{Provider: p, Association: a, Currency: g.Currency, Amount: g.Amount})
	}
	r.TopPartners = groups(parts, locNames)
	if len(r.TopPartners) > o.Top {
		r.TopPartners = r.TopPartners[:o.Top]
	}
	runs, err := results.Runs(ctx, db, o.Limit)
	if err != nil {
		return nil, queryErr(db, "operator runs", err)
	}
	for _, y := range runs {
		x := Run{ID: y.ID, RequestedBy: y.RequestedBy, ProgramsVersion: y.ProgramsVersion, AttributionRows: y.AttributionRows,
			IncentiveRows: y.IncentiveRows, Status: y.Status}
		x.PeriodFrom, x.PeriodTo, x.StartedAt, x.FinishedAt = when(y.PeriodFrom), when(y.PeriodTo), when(y.StartedAt), when(y.FinishedAt)
		diff := y.Diff
		if !json.Valid([]byte(diff)) {
			diff = "{}"
		}
		x.Diff = json.RawMessage(diff)
		r.Runs = append(r.Runs, x)
	}
	imports, err := importlog.List(ctx, db, "", o.Limit)
	if err != nil {
		return nil, queryErr(db, "operator imports", err)
	}
	for _, im := range imports {
		r.Imports = append(r.Imports, Import{ID: im.ID, Kind: im.Kind, FileName: im.FileName, Read: im.RowsRead, Added: im.RowsAdded,
			Duplicate: im.RowsDuplicate, Rejected: im.RowsRejected, StartedAt: when(im.StartedAt), Status: im.Status})
	}
	if err := r.warnings(ctx, db, o); err != nil {
		return nil, err
	}
	r.OrganisationNames, err = directory.OrgNames(ctx, db)
	if err != nil {
		return nil, queryErr(db, "operator organisation names", err)
	}
	return r, nil
}

// tagWarnings adds the tag warnings of the latest run of each period that overlaps the
// report's (a later run of a period replaces its rows, and so its warnings).
func (r *Operator) tagWarnings(ctx context.Context, db *store.DB, o OperatorOptions) error {
	from, to := bound(o.Period)
	seen := map[[2]int64]bool{}
	n := 0
	err := results.RunWarnings(ctx, db, from, to, func(pf, pt int64, raw string) error {
		if seen[[2]int64{pf, pt}] {
			return nil
		}
		seen[[2]int64{pf, pt}] = true
		var ws []struct {
			Tag     string            `json:"tag"`
			Value   string            `json:"value"`
			Reason  string            `json:"reason"`
			Records int64             `json:"records"`
			Cost    map[string]string `json:"cost_at_stake"`
		}
		if json.Unmarshal([]byte(raw), &ws) != nil {
			return nil
		}
		for _, w := range ws {
			if n >= o.Limit {
				return nil
			}
			n++
			curs := make([]string, 0, len(w.Cost))
			for c := range w.Cost {
				curs = append(curs, c)
			}
			sort.Strings(curs)
			cost := make([]string, 0, len(curs))
			for _, c := range curs {
				cost = append(cost, c+" "+w.Cost[c])
			}
			r.Warnings = append(r.Warnings, Warning{Kind: WarnTagNamesNoPartner, Subject: w.Tag + "=" + w.Value,
				Detail: w.Reason + "; " + itoa(w.Records) + " records from " + day(pf) + " to " + day(pt) + ", cost at stake " + strings.Join(cost, ", ") +
					"; register the identifier (partnerlink identifiers add) or correct the tag, then attribute the period again"})
		}
		return nil
	})
	if err != nil {
		return queryErr(db, "warnings: tags", err)
	}
	return nil
}

func (r *Operator) warnings(ctx context.Context, db *store.DB, o OperatorOptions) error {
	if err := r.tagWarnings(ctx, db, o); err != nil {
		return err
	}
	subs, err := usage.Subscriptions(ctx, db)
	if err != nil {
		return fmt.Errorf("warnings: usage per subscription: %w", db.Translate(err))
	}
	known, err := estate.SubscriptionIDs(ctx, db)
	if err != nil {
		return queryErr(db, "warnings: subscriptions", err)
	}
	unknown := 0
	for _, s := range subs {
		if known[s.SubscriptionID] || unknown >= o.Limit {
			continue
		}
		unknown++
		r.Warnings = append(r.Warnings, Warning{Kind: WarnUnknownSubscription, Subject: s.SubscriptionID,
			Detail: itoa(s.Records) + " usage rows since " + day(s.FirstStart) + " name a subscription the estate does not know; import the estate that holds it, or the usage is never attributed"})
	}
	unknownRoles, err := access.UnknownRoles(ctx, db, o.Limit)
	if err != nil {
		return queryErr(db, "warnings: unknown roles", err)
	}
	for _, u := range unknownRoles {
		r.Warnings = append(r.Warnings, Warning{Kind: WarnUnknownRole, Subject: u.AssignmentID,
			Detail: "assignment in tenant " + u.TenantID + " names role definition " + u.RoleDefinitionID + ", which is not imported; it cannot count for PAL until the definition is imported"})
	}
	orphans, err := link.OfMissingPrincipals(ctx, db, o.Now, o.Limit)
	if err != nil {
		return queryErr(db, "warnings: deleted principals", err)
	}
	for _, l := range orphans {
		r.Warnings = append(r.Warnings, Warning{Kind: WarnDeletedPrincipalLink, Subject: l.TenantID + "/" + l.ObjectID,
			Detail: "active link to partner " + l.PartnerID + " belongs to a principal that is deleted or was never imported; it earns nothing until the principal exists again"})
	}
	return nil
}

// diffSummary shortens a run's diff for tables (the JSON report keeps it whole): the engine
// records {"changes": {location: ...}, "previous_run_id": ...}.
func diffSummary(raw json.RawMessage) string {
	var d struct {
		Changes  map[string]json.RawMessage `json:"changes"`
		Previous string                     `json:"previous_run_id"`
	}
	if json.Unmarshal(raw, &d) != nil || d.Changes == nil {
		if len(raw) > 120 {
			return string(raw[:117]) + "..."
		}
		return string(raw)
	}
	against := "no previous run"
	if d.Previous != "" {
		against = "against run " + d.Previous
	}
	return itoa(int64(len(d.Changes))) + " locations changed, " + against
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Tables renders the report as tables.
func (r *Operator) Tables() []Table {
	runs := Table{Name: "runs", Title: "Attribution runs", Header: []string{"id", "period from", "period to", "started", "status", "attributions", "incentives", "programs", "diff"}}
	for _, x := range r.Runs {
		runs.Rows = append(runs.Rows, []string{x.ID, x.PeriodFrom, x.PeriodTo, x.StartedAt, x.Status, itoa(x.AttributionRows), itoa(x.IncentiveRows), x.ProgramsVersion, diffSummary(x.Diff)})
	}
	imps := Table{Name: "imports", Title: "Imports", Header: []string{"id", "kind", "file", "read", "added", "duplicate", "rejected", "started", "status"}}
	for _, x := range r.Imports {
		imps.Rows = append(imps.Rows, []string{x.ID, x.Kind, x.FileName, itoa(x.Read), itoa(x.Added), itoa(x.Duplicate), itoa(x.Rejected), x.StartedAt, x.Status})
	}
	warn := Table{Name: "warnings", Title: "Data-quality warnings", Header: []string{"kind", "subject", "detail"}}
	for _, x := range r.Warnings {
		warn.Rows = append(warn.Rows, []string{x.Kind, x.Subject, x.Detail})
	}
	prov := Table{Name: "providers", Title: "Attributed consumption by provider and association", Header: []string{"provider", "association", "currency", "amount"}}
	for _, x := range r.ByProvider {
		prov.Rows = append(prov.Rows, []string{x.Provider, x.Association, x.Currency, x.Amount})
	}
	dir := Table{Name: "directory", Title: "Partner directory", Header: []string{"organisation", "organisation name", "location", "name"}}
	for _, x := range r.Directory {
		dir.Rows = append(dir.Rows, []string{x.OrgID, r.OrganisationNames[x.OrgID], x.LocationID, x.Name})
	}
	tables := []Table{
		groupTable("programs", "Incentives by program", "program", r.Programs, false),
		groupTable("associations", "Attributed consumption by association", "association", r.Associations, false),
		groupTable("top-partners", "Partners with most attributed consumption", "location", r.TopPartners, true),
		runs, imps, warn, prov, dir,
	}
	if !otherProviders(r.ByProvider) {
		tables = append(tables[:6], dir) // Azure only: version 1's tables
	}
	return tables
}
