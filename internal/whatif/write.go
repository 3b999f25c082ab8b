package whatif

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/partnerlink/partnerlink/internal/audit"
)

// CSVHeader is the what-if's CSV columns: one row per location, association and currency with
// any amount before or after, exact decimals.
var CSVHeader = []string{"partner_id", "association", "currency", "before", "after", "delta"}

// Write writes the result as text (the rows that change, rounded to cents, and the audit's
// changed entries), csv (CSVHeader, every row) or json (the Result).
func (r *Result) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		_, err := io.WriteString(w, r.text())
		return err
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(CSVHeader)
		for _, x := range r.Rows {
			_ = cw.Write([]string{x.PartnerID, x.Association, x.Currency, x.Before, x.After, x.Delta})
		}
		cw.Flush()
		return cw.Error()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("format %q is not known; use one of text, csv, json", format)
}

func (r *Result) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "What-if over [%s, %s), against run %s (finished %s)\n", r.From, r.To, r.RunID, r.RunFinishedAt)
	b.WriteString("Changes:\n")
	if len(r.Changes) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	fmt.Fprintf(&b, "Usage attributed again: %d tenant(s) %s\n", len(r.Tenants), strings.Join(r.Tenants, ", "))
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "Warning: %s\n", w)
	}
	var changed []Row
	for _, x := range r.Rows {
		if x.Changed() {
			changed = append(changed, x)
		}
	}
	fmt.Fprintf(&b, "\nDifference (%d of %d rows change; --format csv lists them all, exact)\n", len(changed), len(r.Rows))
	if len(changed) == 0 {
		b.WriteString("  (no difference)\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "partner\tassociation\tbefore\tafter\tdelta\t")
		for _, x := range changed {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", x.PartnerID, x.Association, audit.Display(x.Before, x.Currency),
				audit.Display(x.After, x.Currency), audit.Display(x.Delta, x.Currency))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(&b, "\nCoverage audit entries that change (%d)\n", len(r.Audit))
	if len(r.Audit) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, a := range r.Audit {
		f := a.After
		if f == nil {
			f = a.Before
		}
		amount := audit.Display(f.Amount, f.Currency)
		if a.Change == "changed" {
			amount = audit.Display(a.Before.Amount, a.Before.Currency) + " -> " + amount
		}
		fmt.Fprintf(&b, "  %s %-8s %-7s %-24s %s %s %s %s\n", a.Partner, a.Change, f.Kind, f.Reason, f.TenantID, f.SubscriptionID, f.PrincipalObjectID, amount)
	}
	return b.String()
}
