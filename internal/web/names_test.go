package web

import (
	"reflect"
	"testing"

	"github.com/partnerlink/partnerlink/internal/report"
)

// The coverage page's finding tables get a name column after each ID column that has none, so
// the table view shows names with the IDs beside them; an unnamed ID keeps an empty name.
func TestWithNames(t *testing.T) {
	in := report.Table{Name: "gaps", Header: []string{"subscription", "tenant", "amount", "principal"},
		Rows: [][]string{{"s1", "t1", "5", "p1"}, {"s2", "t1", "6", ""}}}
	names := map[string]string{"subscription/s1": "Prod", "tenant/t1": "Fabrikam", "principal/p1": "Ana"}
	got := withNames(in, func(col string, row []string) string { return names[col+"/"+cell(in.Header, row, col)] })
	want := report.Table{Name: "gaps", Header: []string{"subscription", "name", "tenant", "name", "amount", "principal", "name"},
		Rows: [][]string{{"s1", "Prod", "t1", "Fabrikam", "5", "p1", "Ana"}, {"s2", "", "t1", "Fabrikam", "6", "", ""}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("withNames:\n%+v\nwant\n%+v", got, want)
	}
	named := report.Table{Header: []string{"tenant", "name", "presence"}, Rows: [][]string{{"t1", "Fabrikam", "PAL"}}}
	if got := withNames(named, func(string, []string) string { t.Fatal("asked for a name the table has"); return "" }); !reflect.DeepEqual(got, named) {
		t.Fatalf("a table with its names changed: %+v", got)
	}
}
