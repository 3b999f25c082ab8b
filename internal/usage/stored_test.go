package usage

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// storedDump is what an import left in usage_segments and usage_keys, in a reviewable file:
// golden stored data of a format version, decoded by tests for as long as it is supported.
type storedDump struct {
	Version  int               `json:"version"`
	Source   string            `json:"source"` // the testdata file that was imported
	Segments []storedSegment   `json:"segments"`
	Keys     []storedKeyBucket `json:"keys"`
}

type storedSegment struct {
	Day      int64  `json:"day"`
	Measure  string `json:"measure"`
	Records  int64  `json:"records"`
	MinStart int64  `json:"min_start"`
	MaxStart int64  `json:"max_start"`
	MinSub   string `json:"min_sub"`
	MaxSub   string `json:"max_sub"`
	Subs     []byte `json:"subs"`
	SHA256   string `json:"sha256"`
	Data     []byte `json:"data"`
}

type storedKeyBucket struct {
	Segment int    `json:"segment"` // index in Segments
	Bits    int64  `json:"bits"`
	Bucket  int64  `json:"bucket"`
	Day     int64  `json:"day"`
	Data    []byte `json:"data"`
}

var storedGoldenFiles = []string{"focus-azure-1.0.csv", "ea-actual-cost-small.csv", "mca-amortized.csv"}

var writeStoredV1 = flag.Bool("write-stored-v1", false, "write testdata/stored-v1 from this build's import (only the build that wrote format version 1 may)")

func dumpStored(t *testing.T, db *store.DB, version int, source string) storedDump {
	t.Helper()
	ctx := context.Background()
	d := storedDump{Version: version, Source: source}
	rows, err := db.QueryContext(ctx, `SELECT id, day, measure, records, min_start, max_start, min_sub, max_sub, subs, sha256, data
		FROM usage_segments ORDER BY day, min_sub, min_start`)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for rows.Next() {
		var id string
		var s storedSegment
		if err := rows.Scan(&id, &s.Day, &s.Measure, &s.Records, &s.MinStart, &s.MaxStart, &s.MinSub, &s.MaxSub, &s.Subs, &s.SHA256, &s.Data); err != nil {
			t.Fatal(err)
		}
		ids[id] = len(d.Segments)
		d.Segments = append(d.Segments, s)
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT segment_id, bits, bucket, day, data FROM usage_keys`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var k storedKeyBucket
		if err := rows.Scan(&id, &k.Bits, &k.Bucket, &k.Day, &k.Data); err != nil {
			t.Fatal(err)
		}
		k.Segment = ids[id]
		d.Keys = append(d.Keys, k)
	}
	rows.Close()
	// Segment IDs are random: order the buckets by what they hold.
	sortBuckets(d.Keys)
	return d
}

func sortBuckets(ks []storedKeyBucket) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && (ks[j].Segment < ks[j-1].Segment || ks[j].Segment == ks[j-1].Segment && ks[j].Bucket < ks[j-1].Bucket); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

// loadStored writes a dump into db as the import that made it had written it.
func loadStored(t *testing.T, db *store.DB, d storedDump) {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, len(d.Segments))
	for i, s := range d.Segments {
		ids[i] = store.NewID()
		if _, err := db.ExecContext(ctx, `INSERT INTO usage_segments (id, day, import_id, measure, records, min_start, max_start,
			min_sub, max_sub, subs, sha256, data) VALUES ($1, $2, 'golden', $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			ids[i], s.Day, s.Measure, s.Records, s.MinStart, s.MaxStart, s.MinSub, s.MaxSub, s.Subs, s.SHA256, s.Data); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range d.Keys {
		if _, err := db.ExecContext(ctx, `INSERT INTO usage_keys (segment_id, bits, bucket, day, data) VALUES ($1, $2, $3, $4, $5)`,
			ids[k.Segment], k.Bits, k.Bucket, k.Day, k.Data); err != nil {
			t.Fatal(err)
		}
	}
}

func storedGoldenPath(version int, source string) string {
	return filepath.Join("testdata", "stored-v"+string(rune('0'+version)), strings.TrimSuffix(source, ".csv")+".json")
}

// TestWriteStoredV1 writes the golden stored data of format version 1 (run once, with
// -write-stored-v1, by the build that still wrote version 1).
func TestWriteStoredV1(t *testing.T) {
	if !*writeStoredV1 {
		t.Skip("only with -write-stored-v1")
	}
	for _, src := range storedGoldenFiles {
		db := storetest.SQLite(t)
		body, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := importString(t, db, src, string(body), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		d := dumpStored(t, db, 1, src)
		for _, s := range d.Segments {
			if !strings.HasPrefix(string(s.Data), "PLU\x01") {
				t.Fatal("this build does not write format version 1")
			}
		}
		out, _ := json.MarshalIndent(d, "", "  ")
		p := storedGoldenPath(1, src)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoredV1 reads the golden stored data of format version 1, written by the last build
// that wrote it: the records decode to what importing the same file gives today, and
// importing that file again adds nothing (its records keep their keys).
func TestStoredV1(t *testing.T) {
	for _, src := range storedGoldenFiles {
		raw, err := os.ReadFile(storedGoldenPath(1, src))
		if err != nil {
			t.Fatal(err)
		}
		var d storedDump
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		body, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(src, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				loadStored(t, db, d)
				fresh := storetest.SQLite(t)
				if _, err := importString(t, fresh, src, string(body), ImportOptions{}); err != nil {
					t.Fatal(err)
				}
				if got, want := exportCSV(t, db), exportCSV(t, fresh); got != want {
					t.Fatalf("%s: stored version 1 decodes to\n%s\nwant\n%s", src, got, want)
				}
				imp, err := importString(t, db, src, string(body), ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if imp.RowsAdded != 0 || imp.RowsDuplicate != imp.RowsRead {
					t.Fatalf("%s: importing again over version 1 data added %d of %d rows", src, imp.RowsAdded, imp.RowsRead)
				}
				var n int
				err = Records(context.Background(), db, timeline.Always(), func(*Record) error { n++; return nil })
				if err != nil || int64(n) != imp.RowsRead {
					t.Fatalf("%s: %d records stored after the re-import, want %d (%v)", src, n, imp.RowsRead, err)
				}
			})
		})
	}
}
