package attribution

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/rules"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// RowHeader is the CSV header of attribution rows (formats.md; provider is version 2's last
// column).
var RowHeader = rules.RowHeader

// IncentiveHeader is the CSV header of incentive rows (formats.md).
var IncentiveHeader = rules.IncentiveHeader

// TableWriter writes rows as CSV or as a JSON array of objects keyed by the CSV header (values
// as strings, except duplicate_at_org as a boolean), streaming.
type TableWriter struct {
	w       io.Writer
	csv     *csv.Writer
	pq      *parquet.GenericWriter[any]
	rowType reflect.Type
	header  []string
	n       int
	// The CSV fast path of WriteRow: rows appended here (after the csv.Writer is flushed),
	// written out in blocks; strings of the last record reused.
	buf                []byte
	fast               bool
	lastStart, lastEnd int64
	startText, endText string
	lastCost           money.Nanos
	costText           string
	lastCover          int64
	coverText          string
	quoted             [16]struct {
		s      string
		q, set bool
	}
	// A record's rows (about 7 at the bench scale) share their first nine columns: the
	// last record's are kept as text and copied whole while they repeat.
	rec     recordColumns
	recText []byte
}

// recordColumns are the columns a record's rows share, in the order written.
type recordColumns struct {
	key                                      string
	start, end                               int64
	tenant, sub, resource, service, currency string
	cost                                     money.Nanos
}

// WriteRow writes an attribution row (RowHeader columns): the same bytes as Write(r.Fields()),
// without a string per field for CSV. `report attributions` streams millions of rows.
func (t *TableWriter) WriteRow(r *Row) error {
	if t.csv == nil {
		return t.Write(r.Fields())
	}
	if !t.fast {
		t.csv.Flush() // the header, or rows written by Write
		if err := t.csv.Error(); err != nil {
			return err
		}
		t.fast, t.lastCover, t.coverText = true, -1, ""
		t.lastStart, t.lastEnd = r.Start+1, r.End+1
	}
	if r.Coverage != t.lastCover {
		t.lastCover, t.coverText = r.Coverage, money.FixedString(r.Coverage)
	}
	b := t.buf
	rc := recordColumns{r.RecordKey, r.Start, r.End, r.TenantID, r.SubscriptionID, r.ResourceID, r.Service, r.Currency, r.Cost}
	if rc != t.rec || t.recText == nil {
		if r.Start != t.lastStart {
			t.lastStart, t.startText = r.Start, timeline.Format(r.Start)
		}
		if r.End != t.lastEnd {
			t.lastEnd, t.endText = r.End, timeline.Format(r.End)
		}
		if r.Cost != t.lastCost || t.costText == "" {
			t.lastCost, t.costText = r.Cost, r.Cost.String()
		}
		c := t.recText[:0]
		c = t.field(c, 0, r.RecordKey)
		c = t.field(c, 1, t.startText)
		c = t.field(c, 2, t.endText)
		c = t.field(c, 3, r.TenantID)
		c = t.field(c, 4, r.SubscriptionID)
		c = t.field(c, 5, r.ResourceID)
		c = t.field(c, 6, r.Service)
		c = t.field(c, 7, r.Currency)
		c = t.field(c, 8, t.costText)
		t.rec, t.recText = rc, c
	}
	b = append(b, t.recText...)
	b = t.field(b, 9, r.LocationID)
	b = t.field(b, 10, r.OrgID)
	b = t.field(b, 11, r.Association)
	b = t.field(b, 12, t.coverText)
	if r.Amount == r.Cost {
		b = t.field(b, 8, t.costText)
	} else {
		b = appendCSV(b, r.Amount.String(), ',')
	}
	b = t.field(b, 14, r.AdminRole)
	b = append(b, strconv.FormatBool(r.DuplicateAtOrg)...)
	b = append(b, ',')
	b = t.field(b, 15, r.ProviderOf())
	b[len(b)-1] = '\n' // the last column's comma
	t.buf = b
	if len(b) >= 64<<10 {
		return t.flushBuf()
	}
	return nil
}

// field appends column col's value and a comma. Values repeat from row to row (a record's
// rows, an estate's partners), so whether the last value of the column needed quotes is kept.
func (t *TableWriter) field(b []byte, col int, f string) []byte {
	c := &t.quoted[col]
	if f != c.s || !c.set {
		c.s, c.q, c.set = f, csvNeedsQuotes(f), true
	}
	if !c.q {
		b = append(b, f...)
		return append(b, ',')
	}
	return appendCSV(b, f, ',')
}

func (t *TableWriter) flushBuf() error {
	if len(t.buf) == 0 {
		return nil
	}
	_, err := t.w.Write(t.buf)
	t.buf = t.buf[:0]
	return err
}

// appendCSV appends a field and sep as encoding/csv writes it (quoted when it must be).
func appendCSV(b []byte, f string, sep byte) []byte {
	if !csvNeedsQuotes(f) {
		b = append(b, f...)
		return append(b, sep)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			b = append(b, '"', '"')
		} else {
			b = append(b, f[i])
		}
	}
	return append(b, '"', sep)
}

// csvNeedsQuotes is encoding/csv's rule for a comma-separated field.
func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` {
		return true
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

// NewTableWriter starts a table in format "csv", "json" or "parquet" (every column a string
// with the CSV's text).
func NewTableWriter(w io.Writer, format string, header []string) (*TableWriter, error) {
	t := &TableWriter{w: w, header: header}
	switch format {
	case "csv", "":
		t.csv = csv.NewWriter(w)
		return t, t.csv.Write(header)
	case "json":
		_, err := io.WriteString(w, "[")
		return t, err
	case "parquet":
		// The same columns, in the same order, each a string holding the CSV's exact text
		// (decimals never pass through a float).
		// A struct type built for the header keeps the columns in its order.
		fields := make([]reflect.StructField, len(header))
		for i, h := range header {
			fields[i] = reflect.StructField{Name: fmt.Sprintf("C%d", i), Type: reflect.TypeOf(""), Tag: reflect.StructTag(`parquet:"` + h + `"`)}
		}
		t.rowType = reflect.StructOf(fields)
		schema := parquet.SchemaOf(reflect.New(t.rowType).Interface())
		t.pq = parquet.NewGenericWriter[any](w, schema, parquet.Compression(&zstd.Codec{}), parquet.CreatedBy("partnerlink", "", ""))
		return t, nil
	}
	return nil, fmt.Errorf("format %q: use csv, json or parquet", format)
}

// Write writes one row of fields in header order.
func (t *TableWriter) Write(fields []string) error {
	if t.csv != nil {
		if err := t.flushBuf(); err != nil {
			return err
		}
		t.fast = false // WriteRow flushes what the csv.Writer buffers before it appends again
		return t.csv.Write(fields)
	}
	if t.pq != nil {
		v := reflect.New(t.rowType)
		for i, f := range fields {
			v.Elem().Field(i).SetString(f)
		}
		_, err := t.pq.Write([]any{v.Interface()})
		return err
	}
	obj := make(map[string]any, len(fields))
	for i, f := range fields {
		if t.header[i] == "duplicate_at_org" {
			obj[t.header[i]] = f == "true"
		} else {
			obj[t.header[i]] = f
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	sep := ",\n"
	if t.n == 0 {
		sep = "\n"
	}
	t.n++
	_, err = io.WriteString(t.w, sep+string(b))
	return err
}

// Close finishes the table.
func (t *TableWriter) Close() error {
	if t.csv != nil {
		if err := t.flushBuf(); err != nil {
			return err
		}
		t.csv.Flush()
		return t.csv.Error()
	}
	if t.pq != nil {
		return t.pq.Close()
	}
	_, err := io.WriteString(t.w, "\n]\n")
	return err
}
