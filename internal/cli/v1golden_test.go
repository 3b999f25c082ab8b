package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersion1Golden pins version 1's results: an Azure-only estate and usage (synth seed 7,
// scale tiny, generated once and kept in testdata/v1golden) attributed for March must give the
// attribution and incentive rows, the totals and the operator report's money sections that
// version 1 gave, byte for byte. The files were captured before version 2 (TAG, RESALE,
// MARKETPLACE) changed the engine. The one difference version 2 makes is the attributions
// report's new last column, provider (formats.md version 2): it is checked to be microsoft on
// every row and then removed before the comparison.
func TestVersion1Golden(t *testing.T) {
	dir := t.TempDir()
	gold := func(name string) []byte {
		t.Helper()
		f, err := os.Open(filepath.Join("testdata", "v1golden", name+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{"estate.json", "usage.csv"} {
		if err := os.WriteFile(filepath.Join(dir, name), gold(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := "--db=" + filepath.Join(dir, "g.db")
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append([]string{db}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	must("import", "estate", filepath.Join(dir, "estate.json"))
	must("import", "usage", filepath.Join(dir, "usage.csv"))
	period := []string{"--from", "2026-03-01", "--to", "2026-04-01"}
	out := must(append([]string{"attribute", "--format", "json"}, period...)...)
	var res map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var stats, totals any
	if err := json.Unmarshal(res["stats"], &stats); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(res["totals"], &totals); err != nil {
		t.Fatal(err)
	}
	var want struct {
		Stats  map[string]any `json:"stats"`
		Totals any            `json:"totals"`
	}
	if err := json.Unmarshal(gold("totals.json"), &want); err != nil {
		t.Fatal(err)
	}
	// Version 2 may add counters (zero on Azure-only usage); every version 1 counter is equal.
	got := stats.(map[string]any)
	for k, v := range want.Stats {
		if g, _ := json.Marshal(got[k]); string(g) != mustJSON(t, v) {
			t.Errorf("stats.%s = %s, version 1 gave %s", k, g, mustJSON(t, v))
		}
	}
	if mustJSON(t, totals) != mustJSON(t, want.Totals) {
		t.Errorf("totals differ from version 1:\n got %s\nwant %s", mustJSON(t, totals), mustJSON(t, want.Totals))
	}

	rows := must(append([]string{"report", "attributions", "--format", "csv"}, period...)...)
	if got, want := stripProvider(t, rows), string(gold("attributions.csv")); got != want {
		t.Errorf("attributions report differs from version 1 (%d vs %d bytes)%s", len(got), len(want), firstDiff(got, want))
	}
	incs := must(append([]string{"report", "incentives", "--format", "csv"}, period...)...)
	if want := string(gold("incentives.csv")); incs != want {
		t.Errorf("incentives report differs from version 1%s", firstDiff(incs, want))
	}
	// The operator report's money sections (programs, associations, top partners) as CSV, whose
	// amounts are exact (the text report rounds for people): captured from main's version 1
	// engine.
	op := must(append([]string{"report", "operator", "--format", "csv"}, period...)...)
	head, _, _ := strings.Cut(op, "table,id,period from")
	if want := string(gold("operator-head.csv")); head != want {
		t.Errorf("operator report's money sections differ from version 1%s", firstDiff(head, want))
	}
}

// stripProvider removes the attributions report's provider column (when present), checking
// that it is last and microsoft on every row.
func stripProvider(t *testing.T, csv string) string {
	t.Helper()
	lines := strings.SplitAfter(csv, "\n")
	if len(lines) == 0 || !strings.HasSuffix(strings.TrimSuffix(lines[0], "\n"), ",provider") {
		return csv
	}
	var b bytes.Buffer
	for i, l := range lines {
		if l == "" {
			continue
		}
		body := strings.TrimSuffix(l, "\n")
		j := strings.LastIndexByte(body, ',')
		if i > 0 && body[j+1:] != "microsoft" {
			t.Errorf("line %d: provider %q, want microsoft", i+1, body[j+1:])
		}
		b.WriteString(body[:j])
		b.WriteString(l[len(body):])
	}
	return b.String()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return "\nfirst difference, line " + itoa(i+1) + ":\n got " + g[i] + "\nwant " + w[i]
		}
	}
	return "\n(one is a prefix of the other)"
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
