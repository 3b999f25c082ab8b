package usage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The hot-path shortcuts must answer exactly as the general code they bypass.

func TestParseUTCSecondsAgreesWithTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-04-01T00:00:00Z", "2026-12-28T23:59:59Z", "2024-02-29T10:00:00Z", "2023-02-29T10:00:00Z",
		"2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z", "2026-04-01T24:00:00Z",
		"2026-04-01T00:60:00Z", "2026-04-01T00:00:60Z", "2026-04-01T00:00:00z",
		"2026-4-01T00:00:00Z", "2026-04-01T00:00:00+", "+026-04-01T00:00:00Z", "1678-01-01T00:00:00Z",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, reason := parseTime(s)
		ok := reason == ""
		if (err == nil) != ok || (ok && got != want.UnixNano()) {
			t.Errorf("parseTime(%q) = %d, %v; time.Parse gives %v, %v", s, got, ok, want, err)
		}
		if fast, ok := parseUTCSeconds(s); ok && (err != nil || fast != want.UnixNano()) {
			t.Errorf("parseUTCSeconds(%q) = %d; time.Parse gives %v, %v", s, fast, want, err)
		}
	}
}

func TestTrimSpaceAgreesWithStrings(t *testing.T) {
	for _, s := range []string{"", " ", "a", " a", "a ", "\ta\n", "\u00a0a", "a\u00a0", "\u0085x", "é", "x\u2003", "abc"} {
		if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
			t.Errorf("trimSpace(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestNormalizeSubscriptionCases(t *testing.T) {
	for in, want := range map[string]string{
		"00000000-0000-4000-8000-00000000000A":                 "00000000-0000-4000-8000-00000000000a",
		"/SUBSCRIPTIONS/00000000-0000-4000-8000-00000000000b/": "00000000-0000-4000-8000-00000000000b",
		" 00000000-0000-4000-8000-00000000000c ":               "00000000-0000-4000-8000-00000000000c",
	} {
		if got, ok := NormalizeSubscription(in); !ok || got != want {
			t.Errorf("NormalizeSubscription(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if got, ok := NormalizeSubscription("NOT-A-GUID"); ok || got != "not-a-guid" {
		t.Errorf("NormalizeSubscription(NOT-A-GUID) = %q, %v", got, ok)
	}
}

func TestLookupFoldAcceptsAnyCase(t *testing.T) {
	for _, s := range []string{"Usage", "usage", "USAGE", "uSaGe"} {
		if v, ok := lookupFold(categories, s); !ok || v != CategoryUsage {
			t.Errorf("lookupFold(%q) = %q, %v", s, v, ok)
		}
	}
	if _, ok := lookupFold(categories, "Usages"); ok {
		t.Error("lookupFold accepted Usages")
	}
}

// TestEachAgreesWithNext: the batched pipeline (fields and bytes copied once per batch, the tee
// pinned while a batch is read) yields exactly what reading row by row yields, bad rows' bytes
// included, across many batches and tee compactions.
func TestEachAgreesWithNext(t *testing.T) {
	var b strings.Builder
	if err := GenerateFOCUS(&b, 3000, 7); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(b.String(), "\n")
	for i := 5; i < len(lines)-1; i += 397 { // spoil some rows: a bad time, a short row, bad UTF-8
		switch i % 3 {
		case 0:
			lines[i] = strings.Replace(lines[i], "2026-04-", "2026-x4-", 1)
		case 1:
			lines[i] = "1,2,3\r\n"
		default:
			lines[i] = strings.Replace(lines[i], "vm", "v\xffm", 1)
		}
		lines[i+1] = "\n" + lines[i+1] // and a blank line after it
	}
	data := strings.Join(lines, "")
	type out struct {
		rec Record
		bad RowError
	}
	var want []out
	rd, err := NewReader(strings.NewReader(data), "f.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		rec, bad, err := rd.Next()
		if err != nil {
			break
		}
		var o out
		if bad != nil {
			o.bad = *bad
		} else {
			o.rec = *rec
		}
		want = append(want, o)
	}
	var got []out
	rd, err = NewReader(strings.NewReader(data), "f.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = rd.Each(t.Context(), func(rec *Record, bad *RowError) error {
		var o out
		if bad != nil {
			o.bad = *bad
		} else {
			o.rec = *rec
		}
		got = append(got, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) != 3000 {
		t.Fatalf("Each gave %d rows, Next %d, file 3000", len(got), len(want))
	}
	bads := 0
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: Each gave %+v, Next %+v", i, got[i], want[i])
		}
		if want[i].bad.Line != 0 {
			bads++
			if !strings.Contains(data, want[i].bad.Raw+"\n") && !strings.Contains(data, want[i].bad.Raw+"\r\n") {
				t.Fatalf("bad row %d raw %q is not a line of the file", i, want[i].bad.Raw)
			}
		}
	}
	if bads < 7 {
		t.Fatalf("only %d bad rows seen", bads)
	}
}

// TestAppendTimeIsAppendInt: the keyer's cache of time texts gives exactly strconv's text,
// for times that share a cache slot (the same hour of different days, 1024 hours apart),
// repeat, are negative or extreme.
func TestAppendTimeIsAppendInt(t *testing.T) {
	k := &keyer{}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	vals := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, base, base + 1, base - 1}
	for range 20000 {
		switch rng.IntN(4) {
		case 0:
			vals = append(vals, base+int64(rng.IntN(2000))*int64(time.Hour))
		case 1:
			vals = append(vals, base+int64(rng.IntN(4))*timeCacheSize*int64(time.Hour)) // one slot
		case 2:
			vals = append(vals, vals[rng.IntN(len(vals))])
		default:
			vals = append(vals, int64(rng.Uint64()))
		}
	}
	for _, v := range vals {
		got := string(k.appendTime([]byte("x"), v))
		if want := "x" + strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendTime(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestParseUTCSecondsIsTimeDate: the fast spelling gives time.Date's UnixNano for every
// year from 0000 to 9999, month, day up to 28 and time of day whose instant int64 nanoseconds
// hold, declines the others (parseTime then names the range) and declines what is not digits.
func TestParseUTCSecondsIsTimeDate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200000 {
		y, mo, d := rng.IntN(10000), 1+rng.IntN(12), 1+rng.IntN(28)
		h, mi, s := rng.IntN(24), rng.IntN(60), rng.IntN(60)
		if i < 10000 {
			y = i // every year
		}
		text := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s)
		got, ok := parseUTCSeconds(text)
		want := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
		inRange := !want.Before(minInstant) && !want.After(maxInstant)
		if ok != inRange || ok && got != want.UnixNano() {
			t.Fatalf("parseUTCSeconds(%q) = %d, %v; want %d (in range: %v)", text, got, ok, want.UnixNano(), inRange)
		}
		if _, reason := parseTime(text); (reason == "") != inRange || !inRange && !strings.Contains(reason, "out of range: partnerlink holds instants from 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z") {
			t.Fatalf("parseTime(%q) says %q (in range: %v)", text, reason, inRange)
		}
	}
	for _, text := range []string{"2026-04-0/T00:00:00Z", "2026-04-01T00:00:0:Z", "2026-13-01T00:00:00Z",
		"2026-04-29T00:00:00Z", "2026-04-01T24:00:00Z", "2026-04-01T00:60:00Z", "2026-04-01T00:00:60Z",
		"2026-00-01T00:00:00Z", "2026-04-00T00:00:00Z", "+026-04-01T00:00:00Z", "2026-04-01 00:00:00Z"} {
		if got, ok := parseUTCSeconds(text); ok {
			t.Errorf("parseUTCSeconds(%q) = %d, want it left to time.Parse", text, got)
		}
	}
}

func BenchmarkParseTime(b *testing.B) {
	in := []string{"2026-04-05T03:00:00Z", "2026-04-17T21:00:00Z", "2026-12-28T00:00:00Z"}
	var sum int64
	for b.Loop() {
		for _, s := range in {
			v, reason := parseTime(s)
			if reason != "" {
				b.Fatal(s)
			}
			sum += v
		}
	}
	if sum == 0 {
		b.Fatal("nothing parsed")
	}
}
