package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
)

// emptyHint turns a "not found" on a database that holds no partners at all into what it is:
// an empty database, most often the default ./partnerlink.db where the demo's database was
// meant. Other errors pass through unchanged.
func emptyHint(ctx context.Context, db *store.DB, err error) error {
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if !emptyDB(ctx, db) {
		return err
	}
	return fmt.Errorf("database %s is empty (no partners imported), so %w; %s", db.Display, err, emptyFix)
}

const emptyFix = "to use the demo's database pass --db partnerlink-demo.db (or export PARTNERLINK_DB=partnerlink-demo.db), or import an estate first"

// emptyDB reports whether the database holds no partner organisation.
func emptyDB(ctx context.Context, db *store.DB) bool {
	orgs, err := directory.Store{DB: db}.List(ctx)
	return err == nil && len(orgs) == 0
}

// warnEmpty warns on w when the database holds no partners: every answer from it is "unknown".
func warnEmpty(ctx context.Context, w io.Writer, db *store.DB) {
	if emptyDB(ctx, db) {
		fmt.Fprintf(w, "warning: database %s is empty (no partners imported); %s\n", db.Display, emptyFix)
	}
}

// printRunSummary prints an attribution run as a table: what was read, what was written and
// the amounts per association type and currency (summed over locations: a record credited
// to two locations counts twice).
func printRunSummary(w, warn io.Writer, res *results.RunResult) {
	st := res.Stats
	fmt.Fprintf(w, "Attribution %s to %s", strings.TrimSuffix(res.From, "T00:00:00Z"), strings.TrimSuffix(res.To, "T00:00:00Z"))
	switch {
	case res.Stored:
		fmt.Fprintf(w, ", run %s (stored, programs %s)\n", res.RunID, res.ProgramsVersion)
	default:
		fmt.Fprintf(w, " (not stored, programs %s)\n", res.ProgramsVersion)
	}
	rows := [][2]string{
		{"usage records in the period", count(st.Records)},
		{"not consumption (purchases, tax, credits)", count(st.NotConsumption)},
		{"of unknown subscriptions", count(st.UnknownSubscription)},
		{"of other providers than Azure", count(st.OtherProviders)},
		{"attribution rows", count(st.Rows)},
		{"incentive rows", count(st.Incentives)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-42s %12s\n", r[0], r[1])
	}
	type key struct{ assoc, cur string }
	sum := map[key]money.Nanos{}
	locs := map[key]int{}
	for _, byAssoc := range res.Totals {
		for assoc, byCur := range byAssoc {
			for cur, amt := range byCur {
				n, err := money.Parse(amt)
				if err != nil {
					continue
				}
				sum[key{assoc, cur}] += n
				locs[key{assoc, cur}]++
			}
		}
	}
	if len(sum) > 0 {
		keys := make([]key, 0, len(sum))
		for k := range sum {
			keys = append(keys, k)
		}
		// Associations first (in report order), then incentive programs; USD before EUR.
		order := func(k key) int {
			if p, ok := strings.CutPrefix(k.assoc, "incentive:"); ok {
				return 100 + len(p)
			}
			return demoAssocOrder(k.assoc)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].cur != keys[j].cur {
				return keys[i].cur > keys[j].cur
			}
			if order(keys[i]) != order(keys[j]) {
				return order(keys[i]) < order(keys[j])
			}
			return keys[i].assoc < keys[j].assoc
		})
		fmt.Fprintln(w, "Credited by association type and incentive program (summed over locations)")
		fmt.Fprintf(w, "  %-16s %-8s %9s %22s\n", "association", "currency", "locations", "amount")
		for _, k := range keys {
			label := k.assoc
			if p, ok := strings.CutPrefix(label, "incentive:"); ok {
				label = p + " incentive"
			}
			fmt.Fprintf(w, "  %-16s %-8s %9d %22s\n", label, k.cur, locs[k], sum[k].Display())
		}
	}
	if len(st.TagWarnings) > 0 {
		// Version 2's data-quality warnings: tag values that name no partner location.
		fmt.Fprintln(w, "Tag values that name no partner (data-quality warnings)")
		fmt.Fprintf(w, "  %-36s %-28s %8s  %s\n", "tag", "value", "records", "cost at stake; why")
		for _, x := range st.TagWarnings {
			curs := make([]string, 0, len(x.Cost))
			for c := range x.Cost {
				curs = append(curs, c)
			}
			sort.Strings(curs)
			cost := make([]string, 0, len(curs))
			for _, c := range curs {
				cost = append(cost, c+" "+x.Cost[c])
			}
			fmt.Fprintf(w, "  %-36s %-28s %8d  %s; %s\n", x.Tag, x.Value, x.Records, strings.Join(cost, ", "), x.Reason)
		}
	}
	if len(st.UnknownSubscriptions) > 0 {
		fmt.Fprintf(warn, "warning: usage of %d subscription(s) the estate does not know earns no PAL, CSP, DPOR or CUA: %s\n",
			len(st.UnknownSubscriptions), strings.Join(st.UnknownSubscriptions, ", "))
	}
	if st.Records == 0 {
		fmt.Fprintf(warn, "warning: no usage record starts in [%s, %s): nothing was attributed; import usage first (partnerlink import usage FILE) or check --from and --to (and --db)\n", res.From, res.To)
	}
}
