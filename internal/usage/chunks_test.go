package usage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readOut is everything a reader yields, for comparing two ways of reading one file.
type readOut struct {
	rows []string // each record or bad row, printed in full
	err  string   // how reading ended ("" at the end of the file)
}

func readWithNext(data []byte, opts ReadOptions) (readOut, error) {
	var out readOut
	rd, err := NewReader(bytes.NewReader(data), "f.csv", opts)
	if err != nil {
		return out, err
	}
	for {
		rec, bad, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			out.err = err.Error()
			return out, nil
		}
		out.rows = append(out.rows, printRow(rec, bad))
	}
}

func readWithEach(r io.Reader, opts ReadOptions) (readOut, error) {
	return readWithEachOf(r, opts, false)
}

// readWithEachOf is readWithEach, transient: a reader that uses the memory of the rows it
// delivered again (what an import reads with).
func readWithEachOf(r io.Reader, opts ReadOptions, transient bool) (readOut, error) {
	var out readOut
	rd, err := NewReader(r, "f.csv", opts)
	if err != nil {
		return out, err
	}
	rd.transient = transient
	err = rd.Each(context.Background(), func(rec *Record, bad *RowError) error {
		out.rows = append(out.rows, printRow(rec, bad))
		return nil
	})
	if err != nil {
		out.err = err.Error()
	}
	return out, nil
}

func printRow(rec *Record, bad *RowError) string {
	if bad != nil {
		return fmt.Sprintf("bad %#v", *bad)
	}
	return fmt.Sprintf("rec %#v", *rec)
}

// withChunkSize makes Each cut chunks of n bytes.
func withChunkSize(t testing.TB, n int) {
	old := chunkSize
	chunkSize = n
	t.Cleanup(func() { chunkSize = old })
}

// eachAgrees checks that Each, cutting chunks of every size in sizes, yields exactly what
// Next (encoding/csv, one record at a time) yields for data, and so does a transient reader
// (whose batches are used again once delivered: many of them at the small sizes).
func eachAgrees(t *testing.T, data []byte, opts ReadOptions, sizes ...int) {
	t.Helper()
	want, werr := readWithNext(data, opts)
	for _, run := range sizes {
		n, transient := run, false
		if run < 0 {
			n, transient = -run, true
		}
		withChunkSize(t, n)
		got, gerr := readWithEachOf(bytes.NewReader(data), opts, transient)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("chunks of %d (transient %v): NewReader gave %v, want %v", n, transient, gerr, werr)
		}
		if got.err != want.err {
			t.Fatalf("chunks of %d (transient %v): Each ended with %q, Next with %q", n, transient, got.err, want.err)
		}
		if len(got.rows) != len(want.rows) {
			t.Fatalf("chunks of %d (transient %v): Each gave %d rows, Next %d\nEach: %q\nNext: %q", n, transient, len(got.rows), len(want.rows), got.rows, want.rows)
		}
		for i := range want.rows {
			if got.rows[i] != want.rows[i] {
				t.Fatalf("chunks of %d (transient %v): row %d:\nEach %s\nNext %s", n, transient, i, got.rows[i], want.rows[i])
			}
		}
	}
}

// chunkSizes are the chunk sizes eachAgrees cuts at; a negative size is the same for a
// transient reader.
var chunkSizes = []int{1, 2, 3, 5, 8, 13, 64, 200, 1000, 256 << 10, -1, -5, -64, -1000}

// TestEachAgreesOnTrickyCSV: splitting in chunks on every core gives the rows, line numbers,
// bad rows (their bytes included) and errors that encoding/csv gives, wherever the chunks are
// cut: quoted fields with line breaks, doubled quotes and CRLF inside, CRLF files, blank lines
// and blank records, a BOM, wrong column counts, and the quote errors from which encoding/csv
// takes over.
func TestEachAgreesOnTrickyCSV(t *testing.T) {
	const h = "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory,ResourceId\n"
	row := func(day int, res string) string {
		return fmt.Sprintf("2026-03-%02dT00:00:00Z,2026-03-%02dT00:00:00Z,1.50,USD,11111111-2222-3333-4444-555555555555,Usage,%s\n", day, day+1, res)
	}
	good := row(1, "a") + row(2, `"b,c"`) + row(3, `"multi`+"\n"+`line"`) + row(4, `"say ""hi"""`)
	crlf := strings.ReplaceAll(good, "\n", "\r\n")
	for _, tc := range []struct{ name, in string }{
		{"plain", h + good},
		{"no final line end", h + strings.TrimSuffix(good, "\n")},
		{"final lone CR", h + strings.TrimSuffix(good, "\n") + "\r"},
		{"final CR after a quote", h + row(1, `"q"`)[:len(row(1, `"q"`))-1] + "\r"},
		{"final quote without line end", h + strings.TrimSuffix(row(1, `"q"`), "\n")},
		{"CRLF", strings.ReplaceAll(h, "\n", "\r\n") + crlf},
		{"CRLF inside quotes", h + row(1, "\"x\r\ny\r\r\nz\"") + row(2, "\"\r\"")},
		{"lone CR in fields", h + row(1, "a\rb") + row(2, "\"a\rb\"") + row(3, "c\r\r")},
		{"BOM", "\xEF\xBB\xBF" + h + good},
		{"blank lines", "\n\r\n" + h + "\n\n" + good + "\r\n\n" + good + "\n\n"},
		{"blank records", h + ",,,,,,\n" + good + " , ,,,,,\n" + ",,,,,,"},
		{"blank line before a bad row", h + good + "\n\r\n\n1,2,3\n" + good},
		{"wrong column counts", h + "1,2,3\n" + good + row(5, "a,b,c") + "\n" + good + "x\n"},
		{"quoted header", "\"ChargePeriodStart\",\"Charge\nPeriodEnd\",BilledCost,BillingCurrency,SubAccountId,ChargeCategory,ResourceId,ChargePeriodEnd\n" + strings.ReplaceAll(good, "\n", ",x\n")},
		{"invalid UTF-8", h + good + row(7, "caf\xe9") + good},
		{"bad values", h + good + strings.Replace(row(8, "a"), "USD", "US", 1) + good},
		{"bare quote", h + good + row(5, `a"b`) + good},
		{"bare quote after blank lines", h + good + "\n\n" + row(5, `a"b`) + "\n" + good},
		{"quote after CR", h + good + row(5, "\r\"b\"") + good},
		{"text after closing quote", h + good + row(5, `"a"b`) + good},
		{"CR after closing quote", h + good + row(5, "\"a\"\rb") + good},
		{"quote open to the end", h + good + row(5, `"abc`) + good},
		{"quote open at the end", h + good + `"`},
		{"doubled quote at the end", h + good + `2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,USD,11111111-2222-3333-4444-555555555555,Usage,"a""`},
		{"quoted line break then bad row", h + row(1, "\"x\n\n\ny\"") + "1,2\n" + good},
		{"header only", h},
		{"header without line end", strings.TrimSuffix(h, "\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachAgrees(t, []byte(tc.in), ReadOptions{}, chunkSizes...)
		})
	}
}

// TestEachAgreesOnGeneratedFiles: the bench's generator (quoted, doubled quotes on every row)
// with rows spoiled here and there, plain and gzipped, and the sample exports.
func TestEachAgreesOnGeneratedFiles(t *testing.T) {
	var b strings.Builder
	if err := GenerateFOCUS(&b, 2000, 3); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(b.String(), "\n")
	for i := 7; i < len(lines)-1; i += 301 {
		switch i % 4 {
		case 0:
			lines[i] = strings.Replace(lines[i], "USD", "\"US\nD\"", 1)
		case 1:
			lines[i] = "1,2,3\r\n\r\n"
		case 2:
			lines[i] = strings.ReplaceAll(lines[i], "\n", "\r\n")
		default:
			lines[i] = strings.Replace(lines[i], "2026-04-", "2026-x4-", 1)
		}
	}
	data := []byte(strings.Join(lines, ""))
	eachAgrees(t, data, ReadOptions{}, 97, 4096, 256<<10)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	want, _ := readWithNext(data, ReadOptions{})
	got, err := readWithEach(&gz, ReadOptions{})
	if err != nil || got.err != "" || len(got.rows) != len(want.rows) || strings.Join(got.rows, "\n") != strings.Join(want.rows, "\n") {
		t.Fatalf("gzip: Each gave %d rows (err %v %q), Next on the plain file %d", len(got.rows), err, got.err, len(want.rows))
	}

	for _, name := range []string{"focus-azure-1.0.csv", "ea-actual-cost-small.csv", "mca-amortized.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		eachAgrees(t, data, ReadOptions{}, 1, 7, 256<<10)
	}
}

// TestEachAgreesOnNDJSON: the converter's rows (with its reasons for bad lines) are split alike.
func TestEachAgreesOnNDJSON(t *testing.T) {
	in := `{"ChargePeriodStart":"2026-03-01T00:00:00Z","ChargePeriodEnd":"2026-03-02T00:00:00Z","BilledCost":1.5,"BillingCurrency":"USD","SubAccountId":"11111111-2222-3333-4444-555555555555","ChargeCategory":"Usage","ResourceId":"a,\"b\"\nc"}
not json

{"ChargePeriodStart":"2026-03-01T00:00:00Z","ChargePeriodEnd":"2026-03-02T00:00:00Z","BilledCost":2,"BillingCurrency":"USD","SubAccountId":"11111111-2222-3333-4444-555555555555","ChargeCategory":"Usage","ResourceId":"d"}
`
	var csvData bytes.Buffer
	if err := ndjsonToCSV(strings.NewReader(in), &csvData); err != nil {
		t.Fatal(err)
	}
	eachAgrees(t, csvData.Bytes(), ReadOptions{fromNDJSON: true}, chunkSizes...)
}

// failAfter returns its data and then err.
type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestEachReadErrorAgrees: a read error in the middle of the file stops both ways of reading
// after the same rows, with the same message (the line of the last row read).
func TestEachReadErrorAgrees(t *testing.T) {
	var b strings.Builder
	if err := GenerateFOCUS(&b, 300, 5); err != nil {
		t.Fatal(err)
	}
	data := b.String()
	broken := errors.New("disk on fire")
	for _, cut := range []int{len(data) / 3, strings.Index(data[len(data)/2:], "\n") + len(data)/2 + 1, strings.Index(data[len(data)/2:], `"""env`) + len(data)/2 + 2} {
		var want readOut
		rd, err := NewReader(&failAfter{strings.NewReader(data[:cut]), broken}, "f.csv", ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, bad, err := rd.Next()
			if err != nil {
				want.err = err.Error()
				break
			}
			want.rows = append(want.rows, printRow(rec, bad))
		}
		for _, n := range []int{1, 100, 4096, 256 << 10} {
			withChunkSize(t, n)
			got, err := readWithEach(&failAfter{strings.NewReader(data[:cut]), broken}, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.err != want.err || len(got.rows) != len(want.rows) {
				t.Fatalf("cut at %d, chunks of %d: Each gave %d rows and %q, Next %d rows and %q", cut, n, len(got.rows), got.err, len(want.rows), want.err)
			}
		}
	}
}

// FuzzEachAgreesWithNext: for any input and any chunk size, Each yields exactly what Next does.
// Each call takes about a millisecond, so minimising a new input byte by byte is slow: fuzz
// with -fuzzminimizetime 2s or so.
func FuzzEachAgreesWithNext(f *testing.F) {
	for _, name := range []string{"focus-azure-1.0.csv", "ea-actual-cost-small.csv", "mca-amortized.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(7))
	}
	f.Add([]byte(focusHeader+goodRow+"\"a\"\"b\",\"c\r\nd\"\r\n\n,,,\n"+goodRow), uint16(3))
	f.Add([]byte(focusHeader+"a,\"b\"c\n"+goodRow+"\"open"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		want, werr := readWithNext(data, ReadOptions{})
		withChunkSize(t, 1+int(size)%300)
		got, gerr := readWithEach(bytes.NewReader(data), ReadOptions{})
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || got.err != want.err || strings.Join(got.rows, "\n") != strings.Join(want.rows, "\n") {
			t.Fatalf("Each and Next differ (chunks of %d):\nEach %v %q %q\nNext %v %q %q", 1+int(size)%300, gerr, got.err, got.rows, werr, want.err, want.rows)
		}
	})
}

// TestTransientEachOnManyChunks: a transient reader cut into hundreds of chunks, whose memory
// it uses again while it is still reading, yields every record as Next does (a chunk's bytes
// used again before its records are delivered would show as other records' bytes).
func TestTransientEachOnManyChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,SubAccountId,ChargeCategory,ResourceId,Tags\n")
	for i := range 4000 {
		fmt.Fprintf(&b, "2026-03-%02dT00:00:00Z,2026-03-%02dT00:00:00Z,%d.%02d,USD,11111111-2222-3333-4444-%012d,Usage,/subscriptions/s/resourceGroups/rg%d/providers/p/x/r%d,\"{\"\"n\"\":\"\"%d\"\"}\"\n",
			1+i%27, 2+i%27, i, i%100, i%7, i%13, i, i)
	}
	eachAgrees(t, []byte(b.String()), ReadOptions{}, -300, -4096, 4096)
}
