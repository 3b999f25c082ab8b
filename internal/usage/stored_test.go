package usage

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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

var writeStored = flag.Bool("write-stored", false, "write testdata/stored-vN, N the segment format version this build writes")

// storedVersions are the segment format versions whose golden stored data tests decode: every
// version still supported.
var storedVersions = []int{1, 2}

// currentVersion is the version encodeSegment writes.
const currentVersion = 2

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
	return filepath.Join("testdata", fmt.Sprintf("stored-v%d", version), strings.TrimSuffix(source, ".csv")+".json")
}

// TestWriteStored writes the golden stored data of the format version this build writes (run
// once per version, with -write-stored, and review the files).
func TestWriteStored(t *testing.T) {
	if !*writeStored {
		t.Skip("only with -write-stored")
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
		d := dumpStored(t, db, currentVersion, src)
		out, _ := json.MarshalIndent(d, "", "  ")
		p := storedGoldenPath(currentVersion, src)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStored reads the golden stored data of every supported format version, written by the
// builds that wrote those versions: the records decode to what importing the same file gives
// today (less the columns a version does not have), and importing that file again adds nothing
// (its records keep their keys). Version 1 was written by 7fe2dcf, the last build that wrote it.
func TestStored(t *testing.T) {
	for _, v := range storedVersions {
		for _, src := range storedGoldenFiles {
			testStored(t, v, src)
		}
	}
}

func testStored(t *testing.T, version int, src string) {
	raw, err := os.ReadFile(storedGoldenPath(version, src))
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
	t.Run(fmt.Sprintf("v%d/%s", version, src), func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, db *store.DB) {
			loadStored(t, db, d)
			fresh := storetest.SQLite(t)
			if _, err := importString(t, fresh, src, string(body), ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			got, want := storedRecords(t, db), storedRecords(t, fresh)
			if version == 1 {
				for i := range want {
					want[i] = asVersion1(want[i])
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stored version %d decodes to\n%+v\nwant\n%+v", version, got, want)
			}
			imp, err := importString(t, db, src, string(body), ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if imp.RowsAdded != 0 || imp.RowsDuplicate != imp.RowsRead || len(storedRecords(t, db)) != len(want) {
				t.Fatalf("importing the file again over version %d data added %d of %d rows", version, imp.RowsAdded, imp.RowsRead)
			}
		})
	})
}

func storedRecords(t *testing.T, db *store.DB) []Record {
	t.Helper()
	var out []Record
	if err := Records(context.Background(), db, timeline.Always(), func(r *Record) error { out = append(out, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// asVersion1 is r as a version 1 segment holds it: without the columns version 2 added.
func asVersion1(r Record) Record {
	return Record{Key: r.Key, Start: r.Start, End: r.End, SubscriptionID: r.SubscriptionID, ResourceID: r.ResourceID,
		Service: r.Service, ServiceCategory: r.ServiceCategory, ChargeCategory: r.ChargeCategory, PricingCategory: r.PricingCategory,
		CommitmentDiscountID: r.CommitmentDiscountID, Provider: r.Provider, Publisher: r.Publisher, Currency: r.Currency,
		Cost: r.Cost, CostRaw: r.CostRaw, ProviderID: r.ProviderID}
}

// TestDamagedSegmentIsReported: a stored segment whose bytes changed (of either version) is an
// error naming it, on every path that reads segments, never records with other money.
func TestDamagedSegmentIsReported(t *testing.T) {
	for _, version := range storedVersions {
		raw, err := os.ReadFile(storedGoldenPath(version, "focus-azure-1.0.csv"))
		if err != nil {
			t.Fatal(err)
		}
		var d storedDump
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				loadStored(t, db, d)
				want := storedRecords(t, db)
				var id string
				var data []byte
				if err := db.QueryRowContext(ctx, `SELECT id, data FROM usage_segments ORDER BY id LIMIT 1`).Scan(&id, &data); err != nil {
					t.Fatal(err)
				}
				// A cost byte near the end: a decoder without the check would read other money.
				data[len(data)-10] ^= 0x01
				if _, err := db.ExecContext(ctx, `UPDATE usage_segments SET data = $1 WHERE id = $2`, data, id); err != nil {
					t.Fatal(err)
				}
				check := func(what string, err error) {
					t.Helper()
					if err == nil || !strings.Contains(err.Error(), "usage segment "+id) || !strings.Contains(err.Error(), "damaged") {
						t.Fatalf("%s over a damaged segment: %v", what, err)
					}
				}
				check("Records", Records(ctx, db, timeline.Always(), func(*Record) error { return nil }))
				check("StreamLean", StreamLean(ctx, db, timeline.Always(), func(*Batch) error { return nil }))
				var found error
				for _, r := range want {
					if _, err := Find(ctx, db, r.Key, timeline.Window{From: r.Start, To: r.Start + 1}); err != nil {
						found = err
						break
					}
				}
				check("Find", found)
			})
		})
	}
}
