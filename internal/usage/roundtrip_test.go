package usage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// exportAs writes every stored record of db in an export format.
func exportAs(t testing.TB, db *store.DB, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, format)
	if err != nil {
		t.Fatal(err)
	}
	if err := Records(context.Background(), db, timeline.Always(), w.Write); err != nil {
		t.Fatalf("export: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// importBytes imports data (CSV or Parquet) as a file named name would be imported.
func importBytes(t testing.TB, db *store.DB, name string, data []byte, opts ImportOptions) *Import {
	t.Helper()
	opts.Now = clock
	imp, err := ImportReader(context.Background(), db, bytes.NewReader(data), name, opts)
	if err != nil {
		t.Fatalf("importing %s: %v", name, err)
	}
	return imp
}

// TestExportRoundTrip: `export usage --format focus` and `--format parquet` read back, with
// `import usage` and its default options, to exactly the records exported, whatever format
// and measure they were imported from, on both engines.
func TestExportRoundTrip(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for _, f := range []struct {
			file string
			opts ImportOptions
		}{
			{"focus-azure-1.0.csv", ImportOptions{}},
			{"focus-azure-1.0.csv", ImportOptions{ReadOptions: ReadOptions{Measure: MeasureEffective}}},
			{"ea-actual-cost-small.csv", ImportOptions{}},
			{"mca-amortized.csv", ImportOptions{ReadOptions: ReadOptions{Measure: MeasureEffective}}},
			{"focus-multicloud-1.0.csv", ImportOptions{}},
			{"focus-1.3.csv", ImportOptions{}},
		} {
			data, err := os.ReadFile(filepath.Join("testdata", f.file))
			if err != nil {
				t.Fatal(err)
			}
			importBytes(t, db, f.file, data, f.opts)
		}
		want := storedRecords(t, db)
		if len(want) == 0 {
			t.Fatal("nothing imported")
		}
		for _, format := range []string{ExportFOCUS, ExportParquet} {
			t.Run(format, func(t *testing.T) {
				out := exportAs(t, db, format)
				again := storetest.SQLite(t)
				imp := importBytes(t, again, "export."+format, out, ImportOptions{})
				if imp.RowsAdded != int64(len(want)) || imp.RowsRejected != 0 {
					t.Fatalf("re-import added %d of %d records", imp.RowsAdded, len(want))
				}
				if got := storedRecords(t, again); !reflect.DeepEqual(got, want) {
					for i := range got {
						if !reflect.DeepEqual(got[i], want[i]) {
							t.Fatalf("record %d after the round trip:\n%+v\nwant\n%+v", i, got[i], want[i])
						}
					}
					t.Fatalf("%d records after the round trip, want %d", len(got), len(want))
				}
				// Importing the export into the database it came from adds nothing.
				if imp := importBytes(t, db, "export."+format, out, ImportOptions{}); imp.RowsAdded != 0 {
					t.Fatalf("importing the export over its own database added %d records", imp.RowsAdded)
				}
			})
		}
	})
}
