package whatif

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/attribution/results"
	"github.com/partnerlink/partnerlink/internal/estatefile"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
	"github.com/partnerlink/partnerlink/internal/synth"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"github.com/partnerlink/partnerlink/internal/usage"
)

// load imports the tiny synthetic dataset (and any extra estate files) into db.
func load(t *testing.T, db *store.DB, d *synth.Dataset, extra ...string) {
	t.Helper()
	ctx := context.Background()
	var est bytes.Buffer
	if err := d.WriteEstate(&est); err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i, f := range append([]string{est.String()}, extra...) {
		if _, err := estatefile.Import(ctx, db, strings.NewReader(f), fmt.Sprintf("estate%d.json", i), estatefile.Options{AsOf: asOf}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "usage.csv")
	var u bytes.Buffer
	if err := d.WriteUsage(&u); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, u.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := usage.ImportFiles(ctx, db, []string{path}, usage.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

func periodOf(d *synth.Dataset) timeline.Window {
	return timeline.Window{From: d.From.UnixNano(), To: d.To.UnixNano()}
}

func attribute(t *testing.T, db *store.DB, p timeline.Window) *results.RunResult {
	t.Helper()
	res, err := results.Run(context.Background(), db, results.RunOptions{Period: p, RequestedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// fresh is a new empty database of db's engine.
func fresh(t *testing.T, db *store.DB) *store.DB {
	if db.Engine() == store.SQLite {
		return storetest.SQLite(t)
	}
	return storetest.Postgres(t)
}

// fingerprint is the whole database's content: the SQLite file's bytes, or every PostgreSQL
// table's rows.
func fingerprint(t *testing.T, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	h := sha256.New()
	if db.Engine() == store.SQLite {
		if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(db.Display)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, tb := range tables {
		var sum string
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM `+tb+` x`).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %s\n", tb, sum)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestWhatifNeedsAStoredRun(t *testing.T) {
	db := storetest.SQLite(t)
	d := synth.Generate(3, synth.Tiny)
	load(t, db, d)
	_, err := Run(context.Background(), db, Request{Period: periodOf(d), Caller: operator})
	if err == nil || !strings.Contains(err.Error(), "partnerlink attribute --from") {
		t.Fatalf("without a stored run: %v", err)
	}
}

// With no change nothing differs, nothing in the audit changes, and the database is left
// exactly as it was.
func TestEmptyChangeSetChangesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		d := synth.Generate(3, synth.Tiny)
		load(t, db, d)
		p := periodOf(d)
		attribute(t, db, p)
		before := fingerprint(t, db)
		res, err := Run(context.Background(), db, Request{Period: p, Caller: operator, Partner: d.Estate.Partners[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) == 0 {
			t.Fatal("no rows: the stored run's totals are missing")
		}
		for _, r := range res.Rows {
			if r.Changed() || r.Before != r.After || r.Delta != "0" {
				t.Errorf("row %+v changed without a change", r)
			}
		}
		if len(res.Audit) != 0 {
			t.Errorf("audit entries changed without a change: %+v", res.Audit)
		}
		if after := fingerprint(t, db); after != before {
			t.Error("the what-if changed the database")
		}
	})
}

// Adding a link by what-if gives the totals that importing the link into a copy of the
// database and attributing gives, for random principals and locations, on both engines; and
// the database is unchanged.
func TestAddLinkEqualsImportingIt(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		d := synth.Generate(4, synth.Tiny)
		load(t, db, d)
		p := periodOf(d)
		attribute(t, db, p)
		before := fingerprint(t, db)
		r := rand.New(rand.NewPCG(7, 7))
		var candidates [][2]string
		for _, pr := range d.Estate.Principals {
			if pr.Type == "User" || pr.Type == "ServicePrincipal" {
				candidates = append(candidates, [2]string{pr.TenantID, pr.ObjectID})
			}
		}
		for i := 0; i < 3; i++ {
			who := candidates[r.IntN(len(candidates))]
			partner := d.Estate.Partners[r.IntN(len(d.Estate.Partners))]
			loc := partner.Locations[r.IntN(len(partner.Locations))].ID
			c := Change{Op: OpAddLink, Tenant: who[0], Object: who[1], Location: loc}
			res, err := Run(context.Background(), db, Request{Period: p, Changes: []Change{c}, Caller: operator})
			if err != nil {
				t.Fatal(err)
			}
			copyDB := fresh(t, db)
			extra, _ := json.Marshal(estatefile.File{Links: []estatefile.Link{{TenantID: who[0], ObjectID: who[1], PartnerID: loc}}})
			load(t, copyDB, d, string(extra))
			want := attribute(t, copyDB, p).Totals
			got := map[string]string{}
			changed := 0
			for _, row := range res.Rows {
				if row.After != "0" {
					got[row.PartnerID+" "+row.Association+" "+row.Currency] = row.After
				}
				if row.Changed() {
					changed++
				}
			}
			wantFlat := map[string]string{}
			for l, as := range want {
				for a, cs := range as {
					for cur, n := range cs {
						if n != "0" {
							wantFlat[l+" "+a+" "+cur] = n
						}
					}
				}
			}
			if !equalJSON(got, wantFlat) {
				t.Fatalf("%s: what-if after\n%v\nimported and attributed\n%v", c, got, wantFlat)
			}
			t.Logf("%s: %d rows change", c, changed)
		}
		if after := fingerprint(t, db); after != before {
			t.Error("the what-ifs changed the database")
		}
	})
}

// An import after the stored run makes its totals (before) suspect: the what-if says so.
func TestWarnsWhenTheRunIsOlderThanTheFacts(t *testing.T) {
	db := storetest.SQLite(t)
	d := synth.Generate(3, synth.Tiny)
	load(t, db, d)
	p := periodOf(d)
	attribute(t, db, p)
	res, err := Run(context.Background(), db, Request{Period: p, Caller: operator})
	if err != nil || len(res.Warnings) != 0 {
		t.Fatalf("fresh run: %v %v", res.Warnings, err)
	}
	pr := d.Estate.Principals[len(d.Estate.Principals)-1]
	extra, _ := json.Marshal(estatefile.File{Links: []estatefile.Link{{TenantID: pr.TenantID, ObjectID: pr.ObjectID, PartnerID: d.Estate.Partners[0].Locations[0].ID}}})
	if _, err := estatefile.Import(context.Background(), db, strings.NewReader(string(extra)), "late.json", estatefile.Options{}); err != nil {
		t.Fatal(err)
	}
	res, err = Run(context.Background(), db, Request{Period: p, Caller: operator})
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "1 import(s)") || !strings.Contains(res.Warnings[0], "run attribute again") {
		t.Fatalf("after a late import: %v %v", res.Warnings, err)
	}
}
