package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/attribution"
	"github.com/partnerlink/partnerlink/internal/report"
)

func customer(t *testing.T, tenant string) string {
	t.Helper()
	c, err := CustomerView(context.Background(), world(), tenant, period, attribution.FromRecords(usageOf()))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.WriteCSV(&b, c.Tables()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The customer sees per partner what it is credited for, and through which identities: u1
// alone carries subscription 1 (201) while u3 shares subscription 6 with it, so removing u1
// costs the partner 201 and removing u3 nothing.
func TestCustomerView(t *testing.T) {
	want := `table,organisation,name,location,association,currency,amount
credits,4100000,Contoso,4100001,CSP,EUR,100
credits,4100000,Contoso,4100001,PAL,EUR,348.222222222

table,organisation,location,tenant,principal,name,currency,credited,alone,link ends
identities,4100000,4100001,` + t1 + `,` + u1 + `,,EUR,321,201,2026-03-05T04:00:00Z
identities,4100000,4100001,` + t1 + `,` + u4 + `,,EUR,22.222222222,22.222222222,
identities,4100000,4100001,` + t1 + `,` + u2 + `,,EUR,5,5,
identities,4100000,4100001,` + t1 + `,` + u3 + `,,EUR,120,0,
`
	if got := customer(t, t1); got != want {
		t.Errorf("t1:\n%s\nwant:\n%s", got, want)
	}
	// Lighthouse: the partner tenant's a1 is credited in t3, through location 4100002 while it
	// was active.
	if got := customer(t, strings.ToUpper(t3)); !strings.Contains(got, "credits,4100000,Contoso,4100002,PAL,EUR,90\n") ||
		!strings.Contains(got, "identities,4100000,4100002,"+pt+","+a1+",,EUR,90,90,") {
		t.Errorf("t3:\n%s", got)
	}
	if _, err := CustomerView(context.Background(), world(), "nope", period, attribution.FromRecords(nil)); err == nil || !strings.Contains(err.Error(), "tenant nope is not in the estate") {
		t.Errorf("unknown tenant: %v", err)
	}
}
