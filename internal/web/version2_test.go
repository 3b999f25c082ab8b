package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// The operator page shows version 2's data-quality warnings (a tag value naming no partner,
// from the latest run of the period) and the consumption by provider and association.
func TestOperatorPageVersion2(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `INSERT INTO attribution_runs (id, period_from, period_to, started_at, finished_at, status, warnings)
VALUES ('r2',$1,$2,$2,$2,'ok',$3)`, day("2026-03-01"), day("2026-04-01"),
			`[{"tag":"aws-apn-id","value":"pc:nobody","reason":"matches no registered identifier (aws-product-code)","records":3,"cost_at_stake":{"USD":"12.5"}}]`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO rollup_provider_daily (day, location_id, org_id, association, provider, currency, amount_nanos, org_amount_nanos, records)
VALUES ($1,'L1','O1','TAG','aws','USD',7000000000,7000000000,2)`, day("2026-03-10")); err != nil {
			t.Fatal(err)
		}
		srv := newServer(t, db)
		o := signIn(t, srv, "tok-operator")
		body := fetch(t, o, "GET", srv.URL+"/operator", nil, 200)
		for _, want := range []string{"tag-names-no-partner", "aws-apn-id=pc:nobody", "cost at stake USD 12.5",
			"Attributed consumption by provider and association", "<td>aws</td>", "<td>TAG</td>"} {
			if !strings.Contains(body, want) {
				t.Errorf("operator page lacks %q", want)
			}
		}
	})
}
