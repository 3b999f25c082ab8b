// Package synthtest gives tests a synthetic dataset imported the way a user imports one:
// written to files, then read by the estate and usage imports.
package synthtest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// Files writes d's estate file and usage CSV into a temporary directory and returns their
// paths.
func Files(t testing.TB, d *synth.Dataset) (estatePath, usagePath string) {
	t.Helper()
	dir := t.TempDir()
	estatePath, usagePath = filepath.Join(dir, "estate.json"), filepath.Join(dir, "usage.csv")
	for path, write := range map[string]func(io.Writer) error{estatePath: d.WriteEstate, usagePath: d.WriteUsage} {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return estatePath, usagePath
}

// Import imports the estate file and the usage CSV into db, as of now.
func Import(t testing.TB, db *store.DB, estatePath, usagePath string, now func() time.Time) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(estatePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := estatefile.Import(ctx, db, f, filepath.Base(estatePath), estatefile.Options{AsOf: timeline.Nanos(now())}); err != nil {
		t.Fatal(err)
	}
	if _, err := usage.ImportFiles(ctx, db, []string{usagePath}, usage.ImportOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
}
