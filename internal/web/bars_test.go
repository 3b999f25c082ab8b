package web

import (
	"testing"

	"github.com/partnerlink/partnerlink/internal/audit"
)

func TestCoverageRows(t *testing.T) {
	now := &audit.Report{Totals: []audit.Total{
		{Total: "consumption", Currency: "USD", Amount: "200"}, {Total: "pal_credited", Currency: "USD", Amount: "100"},
		{Total: "csp_precedence", Currency: "USD", Amount: "25"}, {Total: "gap", Currency: "USD", Amount: "75"},
		{Total: "consumption", Currency: "EUR", Amount: "10"},
	}}
	before := &audit.Report{Totals: []audit.Total{
		{Total: "consumption", Currency: "USD", Amount: "300"}, {Total: "pal_credited", Currency: "USD", Amount: "150"},
	}}
	got := coverageRows(now, before)
	if len(got) != 2 {
		t.Fatalf("%+v", got)
	}
	usd, eur := got[0], got[1]
	if usd.Currency != "USD" || usd.Now != "62.5%" || usd.Before != "50.0%" || usd.ChangeText != "+12.5 points" || usd.Consumption != "USD 200.00" {
		t.Errorf("USD %+v", usd)
	}
	if eur.Currency != "EUR" || eur.Now != "0%" || eur.ChangeText != "new" {
		t.Errorf("EUR %+v", eur)
	}
	if s := share(1, 3); s != "33.3%" {
		t.Errorf("share(1,3) = %s", s)
	}
	if p := points(1, 4, 1, 2); p != "-25.0 points" {
		t.Errorf("points = %s", p)
	}
}
