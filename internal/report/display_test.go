package report

import (
	"bytes"
	"strings"
	"testing"
)

// Text reports open with who and what period, round amounts to cents with grouped digits and
// right-align numbers; CSV stays exact.
func TestTextForPeople(t *testing.T) {
	p := &Partner{PartnerID: "4100000", Kind: KindOrganisation, Name: "Contoso Cloud", From: "2026-03-01T00:00:00Z", To: "2026-04-01T00:00:00Z",
		Totals: []Amount{{Currency: "EUR", Amount: "5.5"}, {Currency: "USD", Amount: "226080.402317142"}}}
	var b bytes.Buffer
	if err := Write(&b, "text", p); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if lines[0] != "Partner 4100000 – Contoso Cloud (organisation), 2026-03-01 to 2026-04-01 (exclusive)" {
		t.Errorf("heading %q", lines[0])
	}
	want := []string{"Totals", "  currency      amount", "  EUR             5.50", "  USD       226,080.40"}
	if strings.Join(lines[2:6], "\n") != strings.Join(want, "\n") {
		t.Errorf("totals:\n%s\nwant:\n%s", strings.Join(lines[2:6], "\n"), strings.Join(want, "\n"))
	}
	b.Reset()
	if err := Write(&b, "csv", p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "totals,USD,226080.402317142") {
		t.Errorf("CSV is not exact:\n%s", b.String())
	}
	if got := DisplayCell([]string{"read"}, []string{"80934"}, 0); got != "80,934" {
		t.Errorf("count %q", got)
	}
	if got := (&Partner{PartnerID: "L", Kind: KindLocation}).Heading(); got != "Partner L – (no name) (location), all time" {
		t.Errorf("open heading %q", got)
	}
}
