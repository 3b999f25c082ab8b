package synth_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// The usage file imports whole with the real FOCUS reader: no bad rows, one record per row.
func TestUsageImportsWithTheFOCUSReader(t *testing.T) {
	d := synth.Generate(5, synth.Tiny)
	path := filepath.Join(t.TempDir(), "usage.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteUsage(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := storetest.SQLite(t)
	imps, err := usage.ImportFiles(context.Background(), db, []string{path}, usage.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imps) != 1 || imps[0].RowsAdded != d.Scale.UsageRows || imps[0].RowsRejected != 0 {
		t.Fatalf("import %+v, want %d rows added", imps[0], d.Scale.UsageRows)
	}
}
