package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Operator is the operator's overview.
type Operator struct {
	From              string            `json:"from"`
	To                string            `json:"to"`
	Programs          []GroupRow        `json:"programs"`
	Associations      []GroupRow        `json:"associations"`
	TopPartners       []GroupRow        `json:"topPartners"`
	Runs              []Run             `json:"runs"`
	Imports           []Import          `json:"imports"`
	Warnings          []Warning         `json:"warnings"`
	Directory         []PartnerName     `json:"directory"`
	OrganisationNames map[string]string `json:"organisationNames"`
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
	locNames, err := names(ctx, db, `SELECT id, name FROM partner_locations`)
	if err != nil {
		return nil, err
	}
	r.Programs, r.Associations = groups(progs, nil), groups(assocs, nil)
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
	err = scanRows(ctx, db, "operator imports", `SELECT id, kind, file_name, rows_read, rows_added, rows_duplicate, rows_rejected, started_at, status
FROM imports ORDER BY started_at DESC, id DESC LIMIT $1`, []any{o.Limit}, func(scan func(...any) error) error {
		var x Import
		var sa int64
		if err := scan(&x.ID, &x.Kind, &x.FileName, &x.Read, &x.Added, &x.Duplicate, &x.Rejected, &sa, &x.Status); err != nil {
			return err
		}
		x.StartedAt = when(sa)
		r.Imports = append(r.Imports, x)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := r.warnings(ctx, db, o); err != nil {
		return nil, err
	}
	err = scanRows(ctx, db, "operator directory", `SELECT id, name, org_id FROM partner_locations ORDER BY org_id, id`, nil, func(scan func(...any) error) error {
		var p PartnerName
		if err := scan(&p.LocationID, &p.Name, &p.OrgID); err != nil {
			return err
		}
		r.Directory = append(r.Directory, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.OrganisationNames, err = names(ctx, db, `SELECT id, name FROM partner_orgs`)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Operator) warnings(ctx context.Context, db *store.DB, o OperatorOptions) error {
	subs, err := usage.Subscriptions(ctx, db)
	if err != nil {
		return fmt.Errorf("warnings: usage per subscription: %w", db.Translate(err))
	}
	known := map[string]bool{}
	err = scanRows(ctx, db, "warnings: subscriptions", `SELECT DISTINCT id FROM subscriptions`, nil, func(scan func(...any) error) error {
		var id string
		if err := scan(&id); err != nil {
			return err
		}
		known[id] = true
		return nil
	})
	if err != nil {
		return err
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
	err = scanRows(ctx, db, "warnings: unknown roles", `SELECT a.id, a.tenant_id, a.role_definition_id FROM role_assignments a
WHERE NOT EXISTS (SELECT 1 FROM role_definitions d WHERE d.id = a.role_definition_id)
GROUP BY a.id, a.tenant_id, a.role_definition_id ORDER BY a.id LIMIT $1`, []any{o.Limit}, func(scan func(...any) error) error {
		var id, tenant, role string
		if err := scan(&id, &tenant, &role); err != nil {
			return err
		}
		r.Warnings = append(r.Warnings, Warning{Kind: WarnUnknownRole, Subject: id,
			Detail: "assignment in tenant " + tenant + " names role definition " + role + ", which is not imported; it cannot count for PAL until the definition is imported"})
		return nil
	})
	if err != nil {
		return err
	}
	return scanRows(ctx, db, "warnings: deleted principals", `SELECT l.tenant_id, l.object_id, l.location_id FROM links l
WHERE l.state = 'Active' AND NOT EXISTS (SELECT 1 FROM principals p WHERE p.tenant_id = l.tenant_id AND p.object_id = l.object_id AND p.valid_from <= $1 AND p.valid_to > $1)
ORDER BY l.tenant_id, l.object_id LIMIT $2`, []any{o.Now, o.Limit}, func(scan func(...any) error) error {
		var tenant, obj, loc string
		if err := scan(&tenant, &obj, &loc); err != nil {
			return err
		}
		r.Warnings = append(r.Warnings, Warning{Kind: WarnDeletedPrincipalLink, Subject: tenant + "/" + obj,
			Detail: "active link to partner " + loc + " belongs to a principal that is deleted or was never imported; it earns nothing until the principal exists again"})
		return nil
	})
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
	dir := Table{Name: "directory", Title: "Partner directory", Header: []string{"organisation", "organisation name", "location", "name"}}
	for _, x := range r.Directory {
		dir.Rows = append(dir.Rows, []string{x.OrgID, r.OrganisationNames[x.OrgID], x.LocationID, x.Name})
	}
	return []Table{
		groupTable("programs", "Incentives by program", "program", r.Programs, false),
		groupTable("associations", "Attributed consumption by association", "association", r.Associations, false),
		groupTable("top-partners", "Partners with most attributed consumption", "location", r.TopPartners, true),
		runs, imps, warn, dir,
	}
}
