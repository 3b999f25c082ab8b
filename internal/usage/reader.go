package usage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Formats of usage files.
const (
	FormatFOCUS     = "focus"
	FormatAzureCost = "azure-cost"
)

// Measures: which cost column is attributed.
const (
	MeasureBilled    = "billed"
	MeasureEffective = "effective"
)

// DefaultMaxFieldBytes is the default limit on one field of a usage file: far above any real
// value (tags included), far below what would exhaust memory.
const DefaultMaxFieldBytes = 1 << 20

// ReadOptions choose the format (empty: detect from the header) and the measure.
type ReadOptions struct {
	Format  string // "", FormatFOCUS or FormatAzureCost
	Measure string // "", MeasureBilled (default) or MeasureEffective
	// MaxFieldBytes limits one field (0: DefaultMaxFieldBytes). A longer field is a bad row;
	// a CSV record longer than the limit times its columns stops the file, since it cannot
	// be read without holding it whole.
	MaxFieldBytes int

	// fromNDJSON: the CSV comes from ImportNDJSON's converter, which adds a header line (so
	// line numbers shift by one) and puts the reason for an unreadable line in its only field.
	fromNDJSON bool
}

func (o ReadOptions) maxField() int {
	if o.MaxFieldBytes <= 0 {
		return DefaultMaxFieldBytes
	}
	return o.MaxFieldBytes
}

func (o ReadOptions) measure() string {
	if o.Measure == "" {
		return MeasureBilled
	}
	return o.Measure
}

// Validate reports an option value that is not one of the accepted ones.
func (o ReadOptions) Validate() error {
	switch o.Format {
	case "", FormatFOCUS, FormatAzureCost:
	default:
		return fmt.Errorf("format %q is not supported; use %s or %s (or leave it out to detect it from the header)", o.Format, FormatFOCUS, FormatAzureCost)
	}
	switch o.Measure {
	case "", MeasureBilled, MeasureEffective:
	default:
		return fmt.Errorf("measure %q is not supported; use %s or %s", o.Measure, MeasureBilled, MeasureEffective)
	}
	if o.MaxFieldBytes < 0 {
		return fmt.Errorf("the field size limit %d is negative; give a number of bytes (default %d)", o.MaxFieldBytes, DefaultMaxFieldBytes)
	}
	return nil
}

// RowError is one bad row: where it is, which column, what is wrong, and the row as it was
// written (for the rejects file).
type RowError struct {
	File   string
	Line   int    // the line the row starts on; in a Parquet file, the row's number
	InRows bool   // Line counts rows (Parquet), not lines
	Column string // empty when the problem is the whole row
	Reason string
	Raw    string // the row's bytes as read (a Parquet row written as CSV), without the line end
}

func (e *RowError) Error() string {
	where := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.InRows {
		where = fmt.Sprintf("%s: row %d", e.File, e.Line)
	}
	if e.Column == "" {
		return fmt.Sprintf("%s: %s", where, e.Reason)
	}
	return fmt.Sprintf("%s: column %s: %s", where, e.Column, e.Reason)
}

// FileError is a problem with a whole file (not CSV, unknown format, missing column).
type FileError struct {
	File   string
	Reason string
	Import *Import // the recorded attempt, when an import was rejected for it
}

func (e *FileError) Error() string { return e.File + ": " + e.Reason }

// Reader streams records from one usage file: CSV (plain or gzip) or Parquet. Memory stays
// constant whatever the file size: a few batches of records and the readers' buffers.
type Reader struct {
	name     string
	pq       *parquetSource // a Parquet file; the CSV fields below are unused
	maxField int
	src      *rawTee
	csv      *csv.Reader
	m        mapper
	format   string
	header   []string
	line     int // line of the last record read
	ndjson   bool
	// lineBase is added to encoding/csv's line numbers: when Each has split the first part
	// of the file itself, csv reads the rest from where it stopped.
	lineBase int
	// dataLine is the line after the header; dataLine 0 means Next has been called, so the
	// csv reader has read ahead and Each must go on with it.
	dataLine int
	// transient: Each's fn keeps neither the record nor its strings once it returns (the
	// import copies what it keeps), so Each uses the memory of the rows it delivered again.
	transient bool
}

// NewReader reads the header of r and prepares the column mapping. name is used in errors. A
// Parquet file (PAR1 at its start) is read from r directly when r is a file (io.ReaderAt and
// io.Seeker), else from a temporary copy; Close releases it.
func NewReader(r io.Reader, name string, opts ReadOptions) (*Reader, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if ra, size, ok := parquetAt(r); ok {
		p, err := openParquet(ra, size, name)
		if err != nil {
			return nil, err
		}
		return newParquetReader(p, opts)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FileError{File: name, Reason: fmt.Sprintf("looks like gzip but cannot be read (%v); is the file complete?", err)}
		}
		br = bufio.NewReaderSize(gz, 64<<10)
	}
	if magic, _ := br.Peek(4); string(magic) == parquetMagic {
		p, err := spoolParquet(br, name)
		if err != nil {
			return nil, err
		}
		return newParquetReader(p, opts)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	tee := &rawTee{r: br, limit: opts.maxField()}
	cr := csv.NewReader(tee)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // the header's count; a row with another count is a bad row
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &FileError{File: name, Reason: "is empty; a usage file starts with a header row (FOCUS: ChargePeriodStart,...; Azure cost details: Date,...)"}
	}
	if err != nil {
		return nil, &FileError{File: name, Reason: fmt.Sprintf("is not a CSV file (%s); export usage as FOCUS or Azure cost-details CSV, or FOCUS Parquet", csvReason(err))}
	}
	header = append([]string(nil), header...)
	for i, h := range header {
		if !utf8.ValidString(h) || strings.ContainsRune(h, 0) {
			return nil, &FileError{File: name, Reason: fmt.Sprintf("is not a CSV file: header field %d is not text", i+1)}
		}
		header[i] = strings.TrimSpace(h)
	}
	m, format, err := mapperFor(header, name, opts)
	if err != nil {
		return nil, err
	}
	// A record may hold every field at the limit; beyond that it cannot be a usage row.
	tee.limit = opts.maxField() * (len(header) + 1)
	tee.mark(cr.InputOffset())
	dataLine := 1 + bytes.Count(tee.buf[:tee.start], []byte{'\n'}) // the tee holds every byte up to the header's end
	return &Reader{name: name, src: tee, csv: cr, m: m, format: format, header: header, ndjson: opts.fromNDJSON,
		dataLine: dataLine, maxField: opts.maxField()}, nil
}

// parquetTyped: Parquet's typed columns reach the mapping as numbers (useTyped). Tests turn
// it off to compare with the text every value would otherwise be rendered as.
var parquetTyped = true

// newParquetReader reads the rows of p.
func newParquetReader(p *parquetSource, opts ReadOptions) (*Reader, error) {
	m, format, err := mapperFor(p.header, p.name, opts)
	if err != nil {
		p.close()
		return nil, err
	}
	if tm, ok := m.(typedMapper); ok && parquetTyped {
		tm.useTyped(p.useTyped(tm.typedColumns()))
	}
	return &Reader{name: p.name, pq: p, m: m, format: format, header: p.header, maxField: opts.maxField()}, nil
}

// mapperFor checks a header and returns the mapper of its format (detected unless chosen).
func mapperFor(header []string, name string, opts ReadOptions) (mapper, string, error) {
	seen := map[string]string{}
	for _, h := range header {
		k := strings.ToLower(h)
		if first, dup := seen[k]; dup {
			if first == h {
				return nil, "", &FileError{File: name, Reason: fmt.Sprintf("header has the column %q twice; each column must appear once", h)}
			}
			return nil, "", &FileError{File: name, Reason: fmt.Sprintf("header has the column %q twice (as %q and %q; column names are compared ignoring case); each column must appear once", h, first, h)}
		}
		seen[k] = h
	}
	format := opts.Format
	if format == "" {
		format = detect(header)
		if format == "" {
			return nil, "", &FileError{File: name, Reason: fmt.Sprintf("header has neither FOCUS columns (ChargePeriodStart, ChargePeriodEnd, BilledCost, ...) nor Azure cost-details columns (Date, SubscriptionId, ChargeType, ...); found %s. Export usage as FOCUS or Azure cost details, or pass --format", preview(header))}
		}
	}
	var m mapper
	var err error
	switch format {
	case FormatFOCUS:
		m, err = newFOCUSMapper(header, opts.measure())
	case FormatAzureCost:
		m, err = newAzureMapper(header, opts.measure())
	}
	if err != nil {
		return nil, "", &FileError{File: name, Reason: err.Error()}
	}
	return m, format, nil
}

// Close releases what the reader holds (a Parquet upload's temporary copy).
func (r *Reader) Close() {
	if r.pq != nil {
		r.pq.close()
	}
}

// Encoding is how the file is stored: "parquet" or "csv".
func (r *Reader) Encoding() string {
	if r.pq != nil {
		return "parquet"
	}
	return "csv"
}

// Format is the detected or chosen format.
func (r *Reader) Format() string { return r.format }

// Header is the file's header row.
func (r *Reader) Header() []string { return r.header }

// Next returns the next record of a CSV file, or a bad row (rec nil, bad set), or io.EOF at
// the end. Any other error means the file cannot be read further. (Each reads every format.)
func (r *Reader) Next() (rec *Record, bad *RowError, err error) {
	if r.pq != nil {
		return nil, nil, errors.New("Reader.Next reads CSV; use Each")
	}
	r.dataLine = 0
	row, err := r.readRow()
	if err == io.EOF {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, r.readError(r.line, err)
	}
	if row.bad != nil {
		return nil, row.bad, nil
	}
	rec = new(Record)
	if bad := r.mapRow(r.m, &row, rec); bad != nil {
		return nil, bad, nil
	}
	return rec, nil, nil
}

// row is one CSV record before mapping: its fields, line and bytes as read, or the reason the
// CSV layer already rejected it.
type row struct {
	fields []string
	line   int
	raw    []byte
	bad    *RowError
	utf8   bool // the fields are known to be UTF-8 (a Parquet row whose text was checked as it was rendered)
	// nums are the values of a Parquet row's typed columns (parquetSource.useTyped), noNum
	// where the mapping reads the text; nil for CSV.
	nums []int64
}

// readError is err, which stopped reading the file after the record on line.
func (r *Reader) readError(line int, err error) error {
	return fmt.Errorf("%s: reading after line %d: %w", r.name, line, err)
}

// readRow reads the next non-blank CSV record. raw is only valid until the next call unless
// the caller copies it. The error is io.EOF or the one that stopped reading (see readError).
func (r *Reader) readRow() (row, error) {
	for {
		fields, err := r.csv.Read()
		raw := r.src.take(r.csv.InputOffset())
		if err == io.EOF {
			return row{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return row{}, err
			}
			pe.StartLine += r.lineBase
			pe.Line += r.lineBase
			reason := csvReason(err) + "; quote fields that contain commas, quotes or line breaks"
			switch {
			case pe.Err == csv.ErrFieldCount && r.ndjson && len(fields) == 1:
				reason = fields[0] // NDJSON: the converter put the reason for a bad line in its only field
			case pe.Err == csv.ErrFieldCount:
				reason = fmt.Sprintf("has %d columns, the header has %d", len(fields), len(r.header))
			}
			return row{bad: r.bad(pe.StartLine, "", reason, raw)}, nil
		}
		if blank(fields) {
			continue
		}
		line, _ := r.csv.FieldPos(0)
		line += r.lineBase
		r.line = line
		return row{fields: fields, line: line, raw: raw}, nil
	}
}

// mapRow checks the row's encoding and field sizes and maps it with m into rec.
func (r *Reader) mapRow(m mapper, row *row, rec *Record) *RowError {
	// One check of the row's bytes; the field is looked for only when it fails. A Parquet row
	// has no bytes as read: its fields are checked one by one, and written as CSV only for a
	// bad row.
	if row.raw == nil || len(row.raw) > r.maxField {
		for i, f := range row.fields {
			if len(f) > r.maxField {
				return r.bad(row.line, r.header[i], fmt.Sprintf("has %d bytes, more than the limit of %d a field (--max-field-bytes)", len(f), r.maxField), r.rawOf(row))
			}
		}
	}
	if !row.utf8 && (row.raw == nil || !utf8.Valid(row.raw)) {
		for i, f := range row.fields {
			if !utf8.ValidString(f) {
				return r.bad(row.line, r.header[i], "is not valid UTF-8; save the file as UTF-8", r.rawOf(row))
			}
		}
	}
	if col, reason := m.mapRow(row.fields, row.nums, rec); reason != "" {
		return r.bad(row.line, col, reason, r.rawOf(row))
	}
	return nil
}

// rawOf is the row as read, or a Parquet row's fields as CSV.
func (r *Reader) rawOf(row *row) []byte {
	if row.raw == nil && r.pq != nil {
		return csvRow(r.pq.textOf(row))
	}
	if row.raw == nil {
		return csvRow(row.fields)
	}
	return row.raw
}

func (r *Reader) bad(line int, col, reason string, raw []byte) *RowError {
	if r.ndjson {
		line-- // the converter's header line is not in the JSON
	}
	return &RowError{File: r.name, Line: line, InRows: r.pq != nil, Column: col, Reason: reason, Raw: string(bytes.TrimRight(raw, "\r\n"))}
}

func blank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}

func preview(header []string) string {
	if len(header) > 6 {
		return strings.Join(header[:6], ",") + ",..."
	}
	return strings.Join(header, ",")
}

// resumeCSV has encoding/csv read the rest of the file from rest, whose first line is line.
func (r *Reader) resumeCSV(rest io.Reader, line int) {
	r.src = &rawTee{r: rest, limit: r.src.limit}
	r.csv = csv.NewReader(r.src)
	r.csv.ReuseRecord = true
	r.csv.FieldsPerRecord = len(r.header)
	r.lineBase = line - 1
}

// rawTee keeps the bytes the CSV reader has consumed since the last record, so a bad row can be
// written to the rejects file exactly as it was read. It holds at most one record (or, while
// pinned, one batch of records) plus the CSV reader's read-ahead, and compacts only when half
// of it is spent, so rows are not copied.
type rawTee struct {
	r      io.Reader
	limit  int // the most bytes one record may take (errRecordTooLong beyond)
	buf    []byte
	start  int   // buf[start:] is not yet taken
	last   int   // where the last take began
	pinned int   // buf[pinned:] is kept; pinned == start unless a batch is pinned
	pin    bool  // a batch is pinned (see pinBatch)
	base   int64 // stream offset of buf[0]
}

func (t *rawTee) Read(p []byte) (int, error) {
	if t.pinned > 64<<10 && t.pinned > len(t.buf)/2 {
		t.buf = append(t.buf[:0], t.buf[t.pinned:]...)
		t.base += int64(t.pinned)
		t.start -= t.pinned
		t.last -= t.pinned
		t.pinned = 0
	}
	if t.limit > 0 && len(t.buf)-t.start > t.limit+len(p) {
		// The CSV reader has read this much without finishing a record: stop before it holds
		// a record of any size in memory.
		return 0, errRecordTooLong
	}
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// errRecordTooLong: a CSV record longer than the field limit times its columns.
var errRecordTooLong = errors.New("a record is longer than every field at the size limit could make it; a field larger than --max-field-bytes, or a quote left open")

// mark drops everything before stream offset off.
func (t *rawTee) mark(off int64) { t.take(off) }

// take returns the bytes from the previous mark up to stream offset off. The slice is valid
// until the next Read.
func (t *rawTee) take(off int64) []byte {
	n := int(off - t.base)
	if n > len(t.buf) {
		n = len(t.buf)
	}
	if n < t.start {
		n = t.start
	}
	out := t.buf[t.start:n]
	t.last = t.start
	t.start = n
	if !t.pin {
		t.pinned = n
	}
	return out
}

// pinBatch keeps every byte taken from now on until unpinBatch, so that a batch of rows is
// copied out in one piece instead of row by row.
func (t *rawTee) pinBatch() {
	t.pinned = t.start
	t.pin = true
}

// lastOffset is where the last take began, relative to the pinned batch.
func (t *rawTee) lastOffset() int { return t.last - t.pinned }

// unpinBatch returns a copy of the bytes taken since pinBatch and stops keeping them.
func (t *rawTee) unpinBatch() []byte {
	out := append([]byte(nil), t.buf[t.pinned:t.start]...)
	t.pinned = t.start
	t.pin = false
	return out
}
