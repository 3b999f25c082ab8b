package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/report"
)

// CSVHeader is the audit's CSV columns: one row per finding.
var CSVHeader = []string{"kind", "tenant_id", "subscription_id", "reason", "currency", "amount", "principal_object_id"}

// Formats the audit writes.
var Formats = []string{"text", "csv", "json"}

// Write writes the report as text (for people: aligned, amounts rounded to cents with their
// currency), csv (CSVHeader, exact amounts) or json (the Report, exact amounts, with totals).
func (rep *Report) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		return rep.writeText(w)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(CSVHeader)
		for _, f := range rep.Findings {
			_ = cw.Write([]string{f.Kind, f.TenantID, f.SubscriptionID, f.Reason, f.Currency, f.Amount, f.PrincipalObjectID})
		}
		cw.Flush()
		return cw.Error()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return fmt.Errorf("format %q is not known; use one of %s", format, strings.Join(Formats, ", "))
}

func (rep *Report) writeText(w io.Writer) error {
	var b strings.Builder
	who := "organisation " + rep.OrgID
	if rep.ID != rep.OrgID {
		who = "location " + rep.ID + " of organisation " + rep.OrgID
	}
	fmt.Fprintf(&b, "Coverage audit of %s (%s), locations %s\n", who, rep.OrgName, strings.Join(rep.Locations, ", "))
	fmt.Fprintf(&b, "Period [%s, %s); present in %d customer tenant(s)\n", rep.From, rep.To, len(rep.Tenants))
	section(&b, "Totals (consumption = pal_credited + csp_precedence + gap)", []string{"total", "amount"}, len(rep.Totals), func(i int) []string {
		t := rep.Totals[i]
		return []string{t.Total, Display(t.Amount, t.Currency)}
	})
	var gaps, risks, hyg []*Finding
	for _, f := range rep.Findings {
		switch f.Kind {
		case KindGap:
			gaps = append(gaps, f)
		case KindRisk:
			risks = append(risks, f)
		default:
			hyg = append(hyg, f)
		}
	}
	section(&b, "Gaps: consumption of subscriptions without PAL credit, with explain's reason", []string{"tenant", "subscription", "amount", "reason", "principal", "why"}, len(gaps), func(i int) []string {
		f := gaps[i]
		return []string{f.TenantID, f.SubscriptionID, Display(f.Amount, f.Currency), f.Reason, f.PrincipalObjectID, gapWhy(f)}
	})
	section(&b, "Attrition risk (single_principal): PAL credit that rests on one linked identity", []string{"tenant", "subscription", "amount", "principal", "link ends", "how"}, len(risks), func(i int) []string {
		f := risks[i]
		end := f.LinkEnds
		if end == "" {
			end = "open"
		}
		return []string{f.TenantID, f.SubscriptionID, Display(f.Amount, f.Currency), f.PrincipalObjectID, end, f.Detail}
	})
	section(&b, "Hygiene", []string{"tenant", "reason", "principal", "location", "amount", "what"}, len(hyg), func(i int) []string {
		f := hyg[i]
		return []string{f.TenantID, f.Reason, f.PrincipalObjectID, f.LocationID, Display(f.Amount, f.Currency), f.Detail}
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// gapWhy is a gap's detail after explain's own reason code, which explain reproduces.
func gapWhy(f *Finding) string {
	if f.ExplainReason == "" || f.ExplainReason == f.Reason {
		return f.Detail
	}
	return "explain: " + f.ExplainReason + ": " + f.Detail
}

// section writes a titled table with aligned columns (the last one, free text, unaligned).
func section(b *strings.Builder, title string, header []string, n int, row func(int) []string) {
	fmt.Fprintf(b, "\n%s\n", title)
	if n == 0 {
		b.WriteString("  (none)\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\n", strings.Join(header, "\t"))
	for i := 0; i < n; i++ {
		fmt.Fprintf(tw, "  %s\n", strings.Join(row(i), "\t"))
	}
	_ = tw.Flush()
}

// Display renders an exact amount for people: rounded half-even to cents, thousands
// separated, with its currency ("" for no amount). CSV and JSON keep the exact value.
func Display(amount, currency string) string {
	if amount == "" {
		return ""
	}
	n, err := money.Parse(amount)
	if err != nil {
		return amount + " " + currency
	}
	cents := int64(money.MulDiv(n, 1, money.Scale/100))
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	units := fmt.Sprint(cents / 100)
	var g []string
	for len(units) > 3 {
		g = append([]string{units[len(units)-3:]}, g...)
		units = units[:len(units)-3]
	}
	g = append([]string{units}, g...)
	return fmt.Sprintf("%s%s.%02d %s", sign, strings.Join(g, ","), cents%100, currency)
}

// Tables renders the report for the dashboard (report.Table, as the other pages): totals,
// tenants, gaps, risks and hygiene, amounts rounded to cents with their currency (the CSV and
// JSON keep them exact).
func (rep *Report) Tables() []report.Table {
	totals := report.Table{Name: "totals", Title: "Totals (consumption = pal_credited + csp_precedence + gap)", Header: []string{"total", "amount"}}
	for _, x := range rep.Totals {
		totals.Rows = append(totals.Rows, []string{x.Total, Display(x.Amount, x.Currency)})
	}
	tenants := report.Table{Name: "tenants", Title: "Customer tenants where the partner is present", Header: []string{"tenant", "name", "presence"}}
	for _, x := range rep.Tenants {
		tenants.Rows = append(tenants.Rows, []string{x.ID, x.Name, strings.Join(x.Presence, ", ")})
	}
	gaps := report.Table{Name: "gaps", Title: "Gaps: consumption of subscriptions without PAL credit, and why", Header: []string{"subscription", "tenant", "amount", "reason", "principal", "why"}}
	risks := report.Table{Name: "risks", Title: "Attrition risk (single_principal): PAL credit that rests on one linked identity", Header: []string{"subscription", "tenant", "amount", "principal", "link ends", "how"}}
	hygiene := report.Table{Name: "hygiene", Title: "Hygiene", Header: []string{"principal", "tenant", "reason", "location", "amount", "what"}}
	for _, f := range rep.Findings {
		amount := Display(f.Amount, f.Currency)
		switch f.Kind {
		case KindGap:
			gaps.Rows = append(gaps.Rows, []string{f.SubscriptionID, f.TenantID, amount, f.Reason, f.PrincipalObjectID, gapWhy(f)})
		case KindRisk:
			end := f.LinkEnds
			if end == "" {
				end = "open"
			}
			risks.Rows = append(risks.Rows, []string{f.SubscriptionID, f.TenantID, amount, f.PrincipalObjectID, end, f.Detail})
		default:
			hygiene.Rows = append(hygiene.Rows, []string{f.PrincipalObjectID, f.TenantID, f.Reason, f.LocationID, amount, f.Detail})
		}
	}
	return []report.Table{totals, tenants, gaps, risks, hygiene}
}
