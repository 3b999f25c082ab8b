package usage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Parquet input. The file is read with github.com/parquet-go/parquet-go (docs/usage.md says
// why that library), row group by row group and page by page, so memory does not grow with
// the file. Each row is rendered to the text a FOCUS CSV would hold (null as NULL, DECIMAL
// exactly in its shortest form, DOUBLE through its shortest decimal form, TIMESTAMP as RFC
// 3339 UTC, a MAP as the canonical JSON of tags) and mapped by the same code as CSV rows: the
// same data as CSV and as Parquet gives the same records, keys included. The charge times
// (TIMESTAMP) and amounts (DECIMAL of scale 0 to 9) the mapping reads reach it as the numbers
// their text would parse to instead (useTyped), which is exact, so nothing changes but the
// work.
//
// A file from outside is not trusted: before the library reads anything, partnerlink checks
// the footer and every page header itself, so that no length in the file can make it allocate
// more than the file could hold (see checkParquet). A panic in the library is caught and
// reported as a damaged file.

// parquetMagic starts and ends every Parquet file.
const parquetMagic = "PAR1"

// Limits on what a Parquet file may declare (checkParquet): writers use pages of about 1 MiB
// and tens of thousands of values.
const (
	maxParquetPage       = 64 << 20 // uncompressed bytes of one page
	maxParquetPageValues = 1 << 22  // values of one page
	// maxParquetExpansion bounds a page's uncompressed size and values by the bytes that hold
	// them; deflate cannot expand more than about 1,032 times.
	maxParquetExpansion = 1032
	// maxParquetRowsPerByte bounds a file's rows by its size: a usage row takes at least its
	// cost's few bits, and real files take tens of bytes a row.
	maxParquetRowsPerByte = 64
)

// parquetSource reads the rows of one Parquet file.
type parquetSource struct {
	name   string
	file   *parquet.File
	size   int64
	header []string
	fields []pqField
	rows   int64
	spool  *os.File // the temporary copy of a file read from a stream; closed with the reader
	nTyped int      // the fields given to the mapping as numbers (useTyped)
}

// pqField is one top-level column: a leaf, or a MAP or LIST read as JSON text.
type pqField struct {
	name     string
	kind     int
	nullDef  int // definition level below which the field is null
	entryDef int // MAP, LIST: definition level from which an entry exists
	leaf     pqLeaf
	value    pqLeaf // MAP: the value (leaf is the key)
	// num is 1 + the field's place in a row's nums when the mapping takes its values as
	// numbers (see useTyped), 0 otherwise; omit says its text is then not rendered at all.
	num  int
	omit bool
}

const (
	pqScalar = iota
	pqMap
	pqList
)

// pqLeaf renders the values of one leaf column.
type pqLeaf struct {
	col    int
	maxDef int
	render func(dst []byte, v parquet.Value) []byte
	plain  bool // render appends the value's bytes as they are
	// typed says whether the values can be given to the mapping as numbers (typedInstant,
	// typedNanos), mul what a value is multiplied by to make them, int32 that the values are
	// INT32.
	typed int
	mul   int64
	int32 bool
}

// Leaves whose values the mapping can take as numbers, exactly what it would read from their
// text: rendering a charge time or an amount as text for the mapping to parse back was a
// quarter of rendering a row.
const (
	typedNone    = iota
	typedInstant // INT64 TIMESTAMP: Unix nanoseconds
	typedNanos   // INT32 or INT64 DECIMAL of scale 0 to 9: nano-units (money.Nanos)
)

// noNum in a row's nums: the column gave no number for the row (null, or beyond what the
// mapping takes: an instant out of range, an amount that overflows nano-units), so the
// mapping reads the field's text, which is then rendered as before.
const noNum = math.MinInt64

// openParquet checks and opens a Parquet file of size bytes.
func openParquet(ra io.ReaderAt, size int64, name string) (src *parquetSource, err error) {
	defer func() {
		if p := recover(); p != nil {
			src, err = nil, &FileError{File: name, Reason: fmt.Sprintf("is not a readable Parquet file (%v); is the file complete?", p)}
		}
	}()
	if err := checkParquet(ra, size); err != nil {
		return nil, &FileError{File: name, Reason: "is not a readable Parquet file: " + err.Error()}
	}
	f, err := parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, &FileError{File: name, Reason: fmt.Sprintf("is not a readable Parquet file (%v); is the file complete?", err)}
	}
	if err := checkPages(ra, size, f.Metadata()); err != nil {
		return nil, &FileError{File: name, Reason: "is not a readable Parquet file: " + err.Error()}
	}
	src = &parquetSource{name: name, file: f, size: size, rows: f.NumRows()}
	if err := src.readSchema(f.Metadata().Schema); err != nil {
		return nil, &FileError{File: name, Reason: err.Error()}
	}
	return src, nil
}

// readSchema classifies the top-level fields of the schema (a depth-first list of elements).
func (p *parquetSource) readSchema(schema []format.SchemaElement) error {
	if len(schema) == 0 {
		return errors.New("has no schema")
	}
	at, col := 1, 0
	// leaf consumes schema[at], a leaf, at definition level def (its own included).
	leaf := func(def int) (pqLeaf, error) {
		e := &schema[at]
		if n, ok := e.NumChildren.Get(); ok && n > 0 {
			return pqLeaf{}, fmt.Errorf("column %q is nested deeper than partnerlink reads (flat columns, MAP and LIST of values)", e.Name)
		}
		r, plain, err := renderer(e)
		if err != nil {
			return pqLeaf{}, err
		}
		l := pqLeaf{col: col, maxDef: def, render: r, plain: plain}
		l.typed, l.mul, l.int32 = typedOf(e)
		at, col = at+1, col+1
		return l, nil
	}
	optional := func(e *format.SchemaElement) int {
		if rt, _ := e.RepetitionType.Get(); rt == format.Optional {
			return 1
		}
		return 0
	}
	top, _ := schema[0].NumChildren.Get()
	for k := 0; k < int(top); k++ {
		if at >= len(schema) {
			return errors.New("has a damaged schema (fewer columns than it declares)")
		}
		e := &schema[at]
		f := pqField{name: e.Name, nullDef: optional(e)}
		if rt, _ := e.RepetitionType.Get(); rt == format.Repeated {
			return fmt.Errorf("column %q is repeated; partnerlink reads flat columns, MAP and LIST", e.Name)
		}
		n, group := e.NumChildren.Get()
		if !group || n == 0 {
			l, err := leaf(f.nullDef)
			if err != nil {
				return err
			}
			f.leaf = l
			p.fields = append(p.fields, f)
			continue
		}
		// A MAP or LIST: one repeated child, a group of key and value (MAP) or of one
		// element (LIST), or the element itself (the legacy two-level LIST).
		ct, _ := e.ConvertedType.Get()
		isMap := ct == deprecated.Map || ct == deprecated.MapKeyValue
		isList := ct == deprecated.List
		switch e.LogicalType.Value.(type) {
		case *format.MapType:
			isMap = true
		case *format.ListType:
			isList = true
		}
		at++
		if n != 1 || at >= len(schema) || (!isMap && !isList) {
			return fmt.Errorf("column %q is a group; partnerlink reads flat columns, MAP and LIST", f.name)
		}
		rep := &schema[at]
		if rt, _ := rep.RepetitionType.Get(); rt != format.Repeated {
			return fmt.Errorf("column %q is a %s without a repeated child", f.name, map[bool]string{true: "MAP", false: "LIST"}[isMap])
		}
		f.entryDef = f.nullDef + 1
		rn, repGroup := rep.NumChildren.Get()
		switch {
		case isMap && repGroup && rn == 2:
			at++
			f.kind = pqMap
			var err error
			if f.leaf, err = leaf(f.entryDef + optional(&schema[at])); err != nil {
				return err
			}
			if f.value, err = leaf(f.entryDef + optional(&schema[at])); err != nil {
				return err
			}
		case isList && repGroup && rn == 1:
			at++
			f.kind = pqList
			var err error
			if f.leaf, err = leaf(f.entryDef + optional(&schema[at])); err != nil {
				return err
			}
		case isList && !repGroup:
			f.kind = pqList
			var err error
			if f.leaf, err = leaf(f.entryDef); err != nil {
				return err
			}
		default:
			return fmt.Errorf("column %q is a MAP or LIST of a shape partnerlink does not read (a MAP of key and value, a LIST of values)", f.name)
		}
		p.fields = append(p.fields, f)
	}
	if at != len(schema) {
		return errors.New("has a damaged schema (more elements than its columns declare)")
	}
	for _, f := range p.fields {
		p.header = append(p.header, f.name)
	}
	return nil
}

// renderer returns how the values of a leaf column are written as text, and whether that is
// their bytes as they are.
func renderer(e *format.SchemaElement) (func([]byte, parquet.Value) []byte, bool, error) {
	r, err := rendererOf(e)
	plain := false
	if typ, _ := e.Type.Get(); err == nil && (typ == format.ByteArray || typ == format.FixedLenByteArray) {
		_, isUUID := e.LogicalType.Value.(*format.UUIDType)
		_, isDecimal := e.LogicalType.Value.(*format.DecimalType)
		ct, _ := e.ConvertedType.Get()
		plain = !isUUID && !isDecimal && !(e.ConvertedType.Valid && ct == deprecated.Decimal)
	}
	return r, plain, err
}

// decimalScale is a leaf's DECIMAL scale, from its logical type or the older converted type;
// isDecimal is false for a leaf of another type.
func decimalScale(e *format.SchemaElement) (scale int32, isDecimal bool) {
	if d, ok := e.LogicalType.Value.(*format.DecimalType); ok {
		return d.Scale, true
	}
	if ct, ok := e.ConvertedType.Get(); ok && ct == deprecated.Decimal {
		return e.Scale.V, true
	}
	return 0, false
}

func rendererOf(e *format.SchemaElement) (func([]byte, parquet.Value) []byte, error) {
	typ, ok := e.Type.Get()
	if !ok {
		return nil, fmt.Errorf("column %q has no type", e.Name)
	}
	ct, hasCT := e.ConvertedType.Get()
	scale, isDecimal := decimalScale(e)
	if isDecimal && (scale < 0 || scale > 38) {
		return nil, fmt.Errorf("column %q is a DECIMAL of scale %d; partnerlink reads scales 0 to 38", e.Name, scale)
	}
	unsigned := hasCT && (ct == deprecated.Uint8 || ct == deprecated.Uint16 || ct == deprecated.Uint32 || ct == deprecated.Uint64)
	if it, ok := e.LogicalType.Value.(*format.IntType); ok {
		unsigned = !it.IsSigned
	}
	switch typ {
	case format.Boolean:
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendBool(b, v.Boolean()) }, nil
	case format.Int32:
		switch {
		case isDecimal:
			return func(b []byte, v parquet.Value) []byte { return appendDecimal(b, int64(v.Int32()), nil, scale) }, nil
		case hasCT && ct == deprecated.Date:
			return appendDate, nil
		}
		if _, ok := e.LogicalType.Value.(*format.DateType); ok {
			return appendDate, nil
		}
		if unsigned {
			return func(b []byte, v parquet.Value) []byte { return strconv.AppendUint(b, uint64(uint32(v.Int32())), 10) }, nil
		}
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendInt(b, int64(v.Int32()), 10) }, nil
	case format.Int64:
		if isDecimal {
			return func(b []byte, v parquet.Value) []byte { return appendDecimal(b, v.Int64(), nil, scale) }, nil
		}
		unit := time.Duration(0)
		if ts, ok := e.LogicalType.Value.(*format.TimestampType); ok {
			switch ts.Unit.Value.(type) {
			case *format.MilliSeconds:
				unit = time.Millisecond
			case *format.MicroSeconds:
				unit = time.Microsecond
			case *format.NanoSeconds:
				unit = time.Nanosecond
			}
		} else if hasCT && ct == deprecated.TimestampMillis {
			unit = time.Millisecond
		} else if hasCT && ct == deprecated.TimestampMicros {
			unit = time.Microsecond
		}
		if unit != 0 {
			// With or without isAdjustedToUTC: FOCUS times are UTC.
			return func(b []byte, v parquet.Value) []byte { return appendTimestamp(b, v.Int64(), unit) }, nil
		}
		if unsigned {
			return func(b []byte, v parquet.Value) []byte { return strconv.AppendUint(b, uint64(v.Int64()), 10) }, nil
		}
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendInt(b, v.Int64(), 10) }, nil
	case format.Int96:
		return appendInt96, nil
	case format.Float:
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendFloat(b, float64(v.Float()), 'g', -1, 32) }, nil
	case format.Double:
		return func(b []byte, v parquet.Value) []byte { return strconv.AppendFloat(b, v.Double(), 'g', -1, 64) }, nil
	case format.ByteArray, format.FixedLenByteArray:
		if isDecimal {
			return func(b []byte, v parquet.Value) []byte { return appendDecimalBytes(b, v.ByteArray(), scale) }, nil
		}
		if _, ok := e.LogicalType.Value.(*format.UUIDType); ok {
			return appendUUID, nil
		}
		return func(b []byte, v parquet.Value) []byte { return append(b, v.ByteArray()...) }, nil
	}
	return nil, fmt.Errorf("column %q has the physical type %v, which partnerlink does not read", e.Name, typ)
}

// typedOf says whether a leaf's values can be given to the mapping as numbers: INT64
// TIMESTAMP as Unix nanoseconds (mul: nanoseconds a unit), INT32 and INT64 DECIMAL of scale
// 0 to 9 as nano-units (mul: 10^(9-scale)). The checks are rendererOf's, in its order.
func typedOf(e *format.SchemaElement) (typed int, mul int64, is32 bool) {
	typ, _ := e.Type.Get()
	ct, hasCT := e.ConvertedType.Get()
	scale, isDecimal := decimalScale(e)
	if typ != format.Int32 && typ != format.Int64 {
		return typedNone, 0, false
	}
	if isDecimal {
		if scale < 0 || scale > 9 {
			return typedNone, 0, false
		}
		mul = 1
		for range 9 - scale {
			mul *= 10
		}
		return typedNanos, mul, typ == format.Int32
	}
	if typ != format.Int64 {
		return typedNone, 0, false
	}
	if ts, ok := e.LogicalType.Value.(*format.TimestampType); ok {
		switch ts.Unit.Value.(type) {
		case *format.MilliSeconds:
			return typedInstant, 1e6, false
		case *format.MicroSeconds:
			return typedInstant, 1e3, false
		case *format.NanoSeconds:
			return typedInstant, 1, false
		}
	} else if hasCT && ct == deprecated.TimestampMillis {
		return typedInstant, 1e6, false
	} else if hasCT && ct == deprecated.TimestampMicros {
		return typedInstant, 1e3, false
	}
	return typedNone, 0, false
}

// number is v as the mapping takes it (see typedOf), or noNum when the mapping must read the
// value's text instead: an instant outside what partnerlink holds (the mapping then names the
// range), an amount beyond nano-units (the mapping then says it is out of range).
func (l *pqLeaf) number(v parquet.Value) int64 {
	var x int64
	if l.int32 {
		x = int64(v.Int32())
	} else {
		x = v.Int64()
	}
	if x > math.MaxInt64/l.mul || x < math.MinInt64/l.mul {
		return noNum
	}
	x *= l.mul
	if l.typed == typedInstant && (x <= timeline.Min || x >= timeline.Max) {
		return noNum
	}
	return x // noNum itself (math.MinInt64 nano-units) means the text is read: the same answer
}

// useTyped has the fields instants (charge times) and amounts (costs) given to the mapping as
// numbers where their Parquet type allows it, and returns each header column's place in a
// row's nums plus 1 (0: none). An instant's text is then left out: the mapping reads only its
// number, and a bad row's rejects line renders it again (textOf).
func (p *parquetSource) useTyped(instants, amounts []int) []int {
	slot := make([]int, len(p.fields))
	take := func(cols []int, typed int, omit bool) {
		for _, k := range cols {
			if k < 0 || k >= len(p.fields) || slot[k] > 0 {
				continue
			}
			if f := &p.fields[k]; f.kind == pqScalar && f.leaf.typed == typed {
				p.nTyped++
				slot[k], f.num, f.omit = p.nTyped, p.nTyped, omit
			}
		}
	}
	take(instants, typedInstant, true)
	take(amounts, typedNanos, false)
	return slot
}

// textOf is a row's fields with the text of the instants left out (useTyped) rendered, as a
// rejects file shows the row.
func (p *parquetSource) textOf(rw *row) []string {
	if rw.nums == nil {
		return rw.fields
	}
	fields := slices.Clone(rw.fields)
	for k := range p.fields {
		if f := &p.fields[k]; f.omit && f.num > 0 && rw.nums[f.num-1] != noNum {
			fields[k] = string(appendTimestamp(nil, rw.nums[f.num-1], time.Nanosecond))
		}
	}
	return fields
}

// appendDecimal writes unscaled×10^-scale exactly, in its shortest form (no trailing fraction
// zeros: DECIMAL(18, 9) 1.5 is "1.5", as the CSV of the same amount would say); bigV holds
// the unscaled value when it does not fit v.
func appendDecimal(b []byte, v int64, bigV *big.Int, scale int32) []byte {
	var digits []byte
	var tmp [24]byte
	neg := false
	if bigV != nil {
		neg = bigV.Sign() < 0
		digits = new(big.Int).Abs(bigV).Append(nil, 10)
	} else {
		neg = v < 0
		u := uint64(v)
		if neg {
			u = -u
		}
		digits = strconv.AppendUint(tmp[:0], u, 10)
	}
	if neg {
		b = append(b, '-')
	}
	if scale == 0 {
		return append(b, digits...)
	}
	s := int(scale)
	for s > 0 && len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits, s = digits[:len(digits)-1], s-1
	}
	if s == 0 || string(digits) == "0" {
		if string(digits) == "0" && neg {
			b = b[:len(b)-1] // no "-0"
		}
		return append(b, digits...)
	}
	if len(digits) <= s {
		b = append(b, '0', '.')
		for range s - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-s]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-s:]...)
}

// appendDecimalBytes writes a DECIMAL stored as big-endian two's complement bytes.
func appendDecimalBytes(b []byte, raw []byte, scale int32) []byte {
	if len(raw) == 0 {
		return appendDecimal(b, 0, nil, scale)
	}
	if len(raw) <= 8 {
		v := int64(int8(raw[0])) // sign-extend the first byte
		for _, c := range raw[1:] {
			v = v<<8 | int64(c)
		}
		return appendDecimal(b, v, nil, scale)
	}
	n := new(big.Int).SetBytes(raw)
	if raw[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	return appendDecimal(b, 0, n, scale)
}

func appendDate(b []byte, v parquet.Value) []byte {
	return time.Unix(int64(v.Int32())*86400, 0).UTC().AppendFormat(b, time.DateOnly)
}

// appendTimestamp writes v units since the epoch as RFC 3339 UTC. An instant beyond what
// int64 nanoseconds hold is written too: the mapping then rejects it, naming the range.
func appendTimestamp(b []byte, v int64, unit time.Duration) []byte {
	// Whole seconds (nearly every charge time) without time.Time's general formatting.
	if per := int64(time.Second / unit); v%per == 0 {
		if secs := v / per; secs >= 0 && secs < 253402300800 { // 1970 to 9999
			return appendUTCSeconds(b, secs)
		}
	}
	var t time.Time
	switch unit {
	case time.Millisecond:
		t = time.UnixMilli(v)
	case time.Microsecond:
		t = time.UnixMicro(v)
	default:
		t = time.Unix(0, v)
	}
	return t.UTC().AppendFormat(b, time.RFC3339Nano)
}

// appendUTCSeconds writes Unix seconds from 1970 as YYYY-MM-DDTHH:MM:SSZ (what
// time.Time.AppendFormat with RFC 3339 writes for them).
func appendUTCSeconds(b []byte, secs int64) []byte {
	days, rem := secs/86400, int(secs%86400)
	// Howard Hinnant's civil_from_days, for days since 1970-01-01 >= 0.
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(two(b, int(y/100)), int(y%100))
	b = two(append(b, '-'), int(m))
	b = two(append(b, '-'), int(d))
	b = two(append(b, 'T'), rem/3600)
	b = two(append(b, ':'), rem/60%60)
	b = two(append(b, ':'), rem%60)
	return append(b, 'Z')
}

// appendInt96 writes a legacy INT96 timestamp (nanoseconds of the day, then the Julian day).
func appendInt96(b []byte, v parquet.Value) []byte {
	i := v.Int96()
	nanos := int64(i[1])<<32 | int64(i[0])
	day := int64(i[2]) - 2440588 // the Julian day of 1970-01-01
	return time.Unix(day*86400, 0).Add(time.Duration(nanos)).UTC().AppendFormat(b, time.RFC3339Nano)
}

func appendUUID(b []byte, v parquet.Value) []byte {
	u := v.ByteArray()
	if len(u) != 16 {
		return append(b, u...)
	}
	const hexdig = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexdig[c>>4], hexdig[c&15])
	}
	return b
}

// each sends the rows of the file as CSV rows are sent (fields, and the row number as the
// line; raw is nil: a bad row is written as CSV when it is reported), a batch at a time, until
// send returns false. Row groups are read and rendered on several goroutines at once (one per
// core, up to four: reading and rendering is most of the work of a Parquet import) and sent in
// file order; each holds at most its group's pages and two batches.
func (p *parquetSource) each(send func(rows []row) bool) error {
	groups := p.file.RowGroups()
	first := make([]int64, len(groups)) // the number of each group's first row
	var n int64
	for g, rg := range groups {
		first[g] = n + 1
		n += rg.NumRows()
	}
	type part struct {
		rows []row
		err  error
	}
	parts := make([]chan part, len(groups))
	for g := range parts {
		parts[g] = make(chan part, 2)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), 4, len(groups)) {
		wg.Go(func() {
			for {
				g := int(next.Add(1) - 1)
				if g >= len(groups) {
					return
				}
				err := p.readGroup(groups[g], first[g], func(rows []row) bool {
					select {
					case parts[g] <- part{rows: rows}:
						return true
					case <-stop:
						return false
					}
				})
				if err != nil {
					select {
					case parts[g] <- part{err: err}:
					case <-stop:
					}
				}
				close(parts[g])
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	for g := range groups {
		for pt := range parts[g] {
			if pt.err != nil {
				return pt.err
			}
			if !send(pt.rows) {
				return nil
			}
		}
	}
	return nil
}

// readGroup renders the rows of one row group, whose first row is row line, and emits them a
// batch at a time until emit returns false. It reads the group straight from the pages' arrays
// (values, offsets, dictionary indices and levels): assembling rows of parquet.Value first cost
// three times the CSV split. A batch is rendered column by column (renderColumn), each column
// in one loop over the batch's rows: rendering row by row, field by field, spent more on
// finding each field's column and kind than on its text.
func (p *parquetSource) readGroup(rg parquet.RowGroup, line int64, emit func([]row) bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &FileError{File: p.name, Reason: fmt.Sprintf("is not a readable Parquet file (%v); is the file complete?", r)}
		}
	}()
	chunks := rg.ColumnChunks()
	cols := make([]*colCursor, len(chunks))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.close()
			}
		}
	}()
	for _, f := range p.fields {
		for _, l := range []pqLeaf{f.leaf, f.value} {
			if l.render != nil {
				cols[l.col] = &colCursor{pages: chunks[l.col].Pages(), maxDef: l.maxDef}
			}
		}
	}
	const batch = 512
	nf, nt := len(p.fields), p.nTyped
	textSize := 0 // of the last batch: the next one's is about as large
	var sc mapScratch
	at := make([][2]int, batch*nf) // each field's bytes in text (scratch: the fields are cut from it)
	valid := make([]bool, batch)   // each row's text is UTF-8
	for left := rg.NumRows(); left > 0; {
		n := int(min(left, batch))
		left -= int64(n)
		out := make([]row, n)
		text := make([]byte, 0, textSize+textSize/8)
		var nums []int64
		if nt > 0 {
			nums = make([]int64, n*nt)
		}
		for i := range n {
			valid[i] = true
		}
		for k := range p.fields {
			var bad int
			if text, bad, err = p.renderColumn(text, k, cols, n, at, nums, valid, &sc); err != nil {
				return &FileError{File: p.name, Reason: fmt.Sprintf("row %d: is not a readable Parquet file (%v)", line+int64(bad), err)}
			}
		}
		// The fields are cut from one string per batch (text is not written again).
		textSize = len(text)
		all := unsafe.String(unsafe.SliceData(text), len(text))
		fields := make([]string, n*nf)
		for j, a := range at[:n*nf] {
			fields[j] = all[a[0]:a[1]]
		}
		for i := range out {
			out[i].fields = fields[i*nf : (i+1)*nf : (i+1)*nf]
			out[i].line, out[i].utf8 = int(line), valid[i]
			if nt > 0 {
				out[i].nums = nums[i*nt : (i+1)*nt : (i+1)*nt]
			}
			line++
		}
		if !emit(out) {
			return nil
		}
	}
	return nil
}

// renderColumn appends field k of the next n rows to b: row i's text is b[at[i*nf+k]], its
// number (for a field useTyped chose) nums[i*nt+num-1]; valid[i] is cleared when the text
// is not UTF-8 (only text as the file holds it can be: numbers and times are rendered in
// ASCII; it is checked once, here, not again by mapRow). A value equal to the row before's is
// not rendered again. On an error, bad is the row it was met in.
func (p *parquetSource) renderColumn(b []byte, k int, cols []*colCursor, n int, at [][2]int, nums []int64, valid []bool, sc *mapScratch) (_ []byte, bad int, err error) {
	f := &p.fields[k]
	nf, nt := len(p.fields), p.nTyped
	if f.kind != pqScalar {
		last, lastOK := [2]int{-1, -1}, true
		for i := range n {
			start := len(b)
			if b, err = p.renderNext(b, k, cols, sc); err != nil {
				return b, i, err
			}
			if last[0] >= 0 && string(b[start:]) == string(b[last[0]:last[1]]) {
				// The row before's (a resource's tags, on each of its rows): one text for
				// both, so a batch holds each run of equal values once.
				b = b[:start]
				at[i*nf+k] = last
				valid[i] = valid[i] && lastOK
				continue
			}
			lastOK = utf8.Valid(b[start:])
			valid[i] = valid[i] && lastOK
			last = [2]int{start, len(b)}
			at[i*nf+k] = last
		}
		return b, 0, nil
	}
	c, l := cols[f.leaf.col], &f.leaf
	null := [2]int{-1, -1} // "NULL", once a batch
	var last [2]int        // the last value's text, its number, whether it is UTF-8
	lastNum, lastOK := int64(noNum), true
	var lastID int64 // the last value (INT64) or dictionary index
	var lastBytes []byte
	have := false // last* hold a value
	for i := range n {
		if c.page == nil || c.pos >= c.n {
			if err := c.fill(); err != nil {
				return b, i, err
			}
			have = false // last* may be in the page just released
		}
		o := i*nf + k
		if c.def() < l.maxDef {
			if null[0] < 0 {
				null = [2]int{len(b), len(b) + 4}
				b = append(b, "NULL"...)
			}
			at[o] = null
			if f.num > 0 {
				nums[i*nt+f.num-1] = noNum
			}
			c.pos++
			continue
		}
		var v parquet.Value
		same, raw := false, false
		switch c.kind {
		case cvIndexed:
			id := int64(c.idx[c.vpos])
			same = have && id == lastID
			lastID = id
			switch {
			case same:
			case c.dictBytes && l.plain:
				raw, lastBytes = true, c.data[c.offs[id]:c.offs[id+1]]
			default:
				v = c.dict.Index(int32(id))
			}
		case cvBytes:
			s := c.data[c.offs[c.vpos]:c.offs[c.vpos+1]]
			same = have && string(s) == string(lastBytes)
			lastBytes = s
			raw = l.plain
			if !same && !raw {
				v = parquet.ByteArrayValue(s)
			}
		case cvInt64:
			x := c.i64[c.vpos]
			same = have && x == lastID
			lastID = x
			if !same {
				v = parquet.Int64Value(x)
			}
		default:
			v = c.value()
		}
		if !same {
			start := len(b)
			num := int64(noNum)
			if f.num > 0 {
				num = l.number(v)
			}
			switch {
			case raw:
				b = append(b, lastBytes...)
			case num == noNum || !f.omit:
				b = l.render(b, v)
			}
			last, lastNum = [2]int{start, len(b)}, num
			lastOK = !l.plain || utf8.Valid(b[start:])
		}
		have = true
		at[o] = last
		valid[i] = valid[i] && lastOK
		if f.num > 0 {
			nums[i*nt+f.num-1] = lastNum
		}
		c.vpos++
		c.pos++
	}
	return b, 0, nil
}

// renderNext appends the next row's field k as text (renderColumn renders scalar fields, a
// column at a time; this renders a MAP or LIST, a row at a time).
func (p *parquetSource) renderNext(b []byte, k int, cols []*colCursor, sc *mapScratch) (_ []byte, err error) {
	f := &p.fields[k]
	c := cols[f.leaf.col]
	if err := c.fill(); err != nil {
		return b, err
	}
	def := c.def()
	if def < f.nullDef {
		c.skipRow()
		if f.kind == pqMap {
			if err := cols[f.value.col].fill(); err != nil {
				return b, err
			}
			cols[f.value.col].skipRow()
		}
		return append(b, "NULL"...), nil
	}
	switch f.kind {
	case pqScalar:
		if def < f.leaf.maxDef {
			c.skipRow()
			return append(b, "NULL"...), nil
		}
		v := c.value()
		c.skipRow()
		return f.leaf.render(b, v), nil
	case pqList:
		b = append(b, '[')
		for n := 0; ; n++ {
			if c.def() < f.entryDef {
				c.skipRow() // an empty list
				break
			}
			if n > 0 {
				b = append(b, ',')
			}
			if c.def() < f.leaf.maxDef {
				b = append(b, "null"...)
			} else {
				b = appendJSONString(b, string(f.leaf.render(nil, c.value())))
			}
			if !c.next() {
				break
			}
		}
		return append(b, ']'), nil
	}
	// A MAP: its keys and values, in step, rendered into scratch space and written sorted by
	// key as canonical tags (no allocation per entry: tags are on every row).
	vc := cols[f.value.col]
	if err := vc.fill(); err != nil {
		return b, err
	}
	scratch, ents := sc.text[:0], sc.ents[:0]
	for {
		if c.def() < f.entryDef {
			c.skipRow() // an empty map
			vc.skipRow()
			break
		}
		e := mapEntry{k0: len(scratch)}
		scratch = f.leaf.render(scratch, c.value())
		e.k1 = len(scratch)
		if vc.def() >= f.value.maxDef {
			scratch = f.value.render(scratch, vc.value())
		}
		e.v1 = len(scratch)
		ents = append(ents, e)
		more := c.next()
		if vc.next() != more {
			return b, fmt.Errorf("column %q: its keys and values do not pair up", f.name)
		}
		if !more {
			break
		}
	}
	key := func(e mapEntry) []byte { return scratch[e.k0:e.k1] }
	for i := 1; i < len(ents); i++ { // few entries: insertion sort, stable
		for j := i; j > 0 && string(key(ents[j])) < string(key(ents[j-1])); j-- {
			ents[j], ents[j-1] = ents[j-1], ents[j]
		}
	}
	b = append(b, '{')
	for i, e := range ents {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, unsafe.String(unsafe.SliceData(scratch[e.k0:]), e.k1-e.k0))
		b = append(b, ':')
		b = appendJSONString(b, unsafe.String(unsafe.SliceData(scratch[e.k1:]), e.v1-e.k1))
	}
	sc.text, sc.ents = scratch, ents
	return append(b, '}'), nil
}

// mapEntry is a MAP entry rendered in scratch space: the key is [k0, k1), the value [k1, v1).
type mapEntry struct{ k0, k1, v1 int }

// mapScratch is one goroutine's space for rendering MAP entries.
type mapScratch struct {
	text []byte
	ents []mapEntry
}

// colCursor reads one column chunk level by level, from its pages' arrays.
type colCursor struct {
	pages  parquet.Pages
	maxDef int // the definition level of a value (the leaf's)
	page   parquet.Page
	n      int    // levels in the page
	pos    int    // the next level
	vpos   int    // the next (non-null) value
	defs   []byte // nil: every value is defined
	reps   []byte
	// The page's values, by kind: byte arrays (data and offsets), fixed-length byte arrays,
	// dictionary indices (with the dictionary's byte arrays or values), numbers; vals when the
	// page is read through parquet.Value (booleans).
	kind int
	data []byte
	offs []uint32
	size int
	idx  []int32
	dict parquet.Dictionary
	// dictBytes: dict holds byte arrays, which data and offs then are (indexed by idx).
	dictBytes bool
	i32       []int32
	i64       []int64
	f32       []float32
	f64       []float64
	i96       []deprecated.Int96
	vals      []parquet.Value
}

const (
	cvBytes = iota
	cvFixed
	cvIndexed
	cvInt32
	cvInt64
	cvFloat
	cvDouble
	cvInt96
	cvValues
)

func (c *colCursor) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	c.pages.Close()
}

// fill makes sure a level is at hand, reading the next page when the page is spent.
func (c *colCursor) fill() error {
	for c.page == nil || c.pos >= c.n {
		if c.page != nil {
			parquet.Release(c.page)
			c.page = nil
		}
		pg, err := c.pages.ReadPage()
		if err == io.EOF {
			return errors.New("a column ends before its row group")
		}
		if err != nil {
			return err
		}
		c.load(pg)
	}
	return nil
}

func (c *colCursor) load(pg parquet.Page) {
	*c = colCursor{pages: c.pages, maxDef: c.maxDef, page: pg, n: int(pg.NumValues()), defs: pg.DefinitionLevels(),
		reps: pg.RepetitionLevels()}
	data := pg.Data()
	if d := pg.Dictionary(); d != nil {
		c.kind, c.dict, c.idx = cvIndexed, d, data.Int32()
		if dd := d.Page().Data(); dd.Kind() == encoding.ByteArray {
			c.data, c.offs = dd.ByteArray() // read as a page's byte arrays (renderColumn)
			c.dictBytes = true
		}
		return
	}
	switch data.Kind() {
	case encoding.ByteArray:
		c.kind = cvBytes
		c.data, c.offs = data.ByteArray()
	case encoding.FixedLenByteArray:
		c.kind = cvFixed
		c.data, c.size = data.FixedLenByteArray()
	case encoding.Int32:
		c.kind, c.i32 = cvInt32, data.Int32()
	case encoding.Int64:
		c.kind, c.i64 = cvInt64, data.Int64()
	case encoding.Int96:
		c.kind, c.i96 = cvInt96, data.Int96()
	case encoding.Float:
		c.kind, c.f32 = cvFloat, data.Float()
	case encoding.Double:
		c.kind, c.f64 = cvDouble, data.Double()
	default:
		c.kind = cvValues
		c.vals = make([]parquet.Value, pg.NumValues())
		n, _ := pg.Values().ReadValues(c.vals)
		c.vals = c.vals[:n]
	}
}

// def is the definition level of the next value (1<<30 when the column has none: defined).
func (c *colCursor) def() int {
	if c.kind == cvValues {
		return c.vals[c.pos].DefinitionLevel()
	}
	if c.defs == nil {
		return 1 << 30
	}
	return int(c.defs[c.pos])
}

func (c *colCursor) rep() int {
	if c.kind == cvValues {
		return c.vals[c.pos].RepetitionLevel()
	}
	if c.reps == nil {
		return 0
	}
	return int(c.reps[c.pos])
}

// value is the next value; the level must be defined.
func (c *colCursor) value() parquet.Value {
	switch c.kind {
	case cvBytes:
		return parquet.ByteArrayValue(c.data[c.offs[c.vpos]:c.offs[c.vpos+1]])
	case cvFixed:
		return parquet.FixedLenByteArrayValue(c.data[c.vpos*c.size : (c.vpos+1)*c.size])
	case cvIndexed:
		return c.dict.Index(c.idx[c.vpos])
	case cvInt32:
		return parquet.Int32Value(c.i32[c.vpos])
	case cvInt64:
		return parquet.Int64Value(c.i64[c.vpos])
	case cvInt96:
		return parquet.Int96Value(c.i96[c.vpos])
	case cvFloat:
		return parquet.FloatValue(c.f32[c.vpos])
	case cvDouble:
		return parquet.DoubleValue(c.f64[c.vpos])
	}
	return c.vals[c.pos]
}

// step moves past the level at pos.
func (c *colCursor) step(defined bool) {
	if defined {
		c.vpos++
	}
	c.pos++
}

// next moves to the next level of the same row and reports whether there is one (a
// repeated column: its repetition level is above 0).
func (c *colCursor) next() bool {
	c.step(c.definedValue())
	if c.fill() != nil {
		return false
	}
	return c.rep() > 0
}

// skipRow moves past the rest of the current row.
func (c *colCursor) skipRow() {
	c.step(c.definedValue())
	for c.fill() == nil && c.rep() > 0 {
		c.step(c.definedValue())
	}
}

// definedValue reports whether the level at pos carries a value in the page's packed values.
func (c *colCursor) definedValue() bool {
	return c.defs == nil || int(c.defs[c.pos]) >= c.maxDef
}

// csvRow is fields as one CSV row (how a bad Parquet row is written to the rejects file).
func csvRow(fields []string) []byte {
	var b []byte
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, csvQuote(f)...)
	}
	return b
}

// checkParquet checks what a Parquet file declares before the library reads it: the magic at
// both ends, a footer that fits in the file, and a footer whose every length and count fits
// in the footer (the library allocates lengths as it reads them).
func checkParquet(ra io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("it has %d bytes, fewer than any Parquet file", size)
	}
	var tail [8]byte
	if _, err := ra.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	switch string(tail[4:]) {
	case parquetMagic:
	case "PARE":
		return errors.New("it is encrypted; partnerlink reads unencrypted Parquet")
	default:
		return errors.New("it does not end with PAR1 (is the file complete?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return fmt.Errorf("its footer of %d bytes does not fit in a file of %d bytes", n, size)
	}
	footer := make([]byte, n)
	if _, err := ra.ReadAt(footer, size-8-n); err != nil {
		return err
	}
	used, err := thriftStruct(footer, 0)
	if err != nil {
		return fmt.Errorf("its footer is damaged: %w", err)
	}
	if used != len(footer) {
		return fmt.Errorf("its footer is damaged: %d bytes after the metadata", len(footer)-used)
	}
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		return fmt.Errorf("its footer is damaged: %w", err)
	}
	if md.NumRows < 0 || md.NumRows > maxParquetRowsPerByte*size {
		return fmt.Errorf("it declares %d rows, more than %d bytes can hold", md.NumRows, size)
	}
	var rows int64
	for i, rg := range md.RowGroups {
		if rg.NumRows < 0 || rg.NumRows > md.NumRows-rows {
			return fmt.Errorf("row group %d declares %d rows, more than the file's %d", i, rg.NumRows, md.NumRows)
		}
		rows += rg.NumRows
		for _, c := range rg.Columns {
			if c.FilePath != "" {
				return fmt.Errorf("its column chunks are in another file (%s); partnerlink reads single-file Parquet", c.FilePath)
			}
			m := &c.MetaData
			switch m.Codec {
			case format.Uncompressed, format.Snappy, format.Gzip, format.Zstd:
			default:
				return fmt.Errorf("column %s is compressed with %v; partnerlink reads uncompressed, SNAPPY, GZIP and ZSTD Parquet", slices.Clone(m.PathInSchema), m.Codec)
			}
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			if start < 4 || m.TotalCompressedSize < 0 || start > size-8-n || m.TotalCompressedSize > size-8-n-start {
				return fmt.Errorf("column %s of row group %d lies outside the file", slices.Clone(m.PathInSchema), i)
			}
		}
	}
	if rows != md.NumRows {
		return fmt.Errorf("its row groups hold %d rows, the file declares %d", rows, md.NumRows)
	}
	return nil
}

// checkPages reads every page header of every column chunk and checks what it declares: the
// page within its chunk, its uncompressed size and value count within the limits and within
// what its bytes can expand to, and for SNAPPY and ZSTD the size their own headers declare.
func checkPages(ra io.ReaderAt, size int64, md *format.FileMetaData) error {
	var window []byte
	for i, rg := range md.RowGroups {
		for _, c := range rg.Columns {
			m := &c.MetaData
			pos := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < pos {
				pos = m.DictionaryPageOffset
			}
			end := pos + m.TotalCompressedSize
			col := slices.Clone(m.PathInSchema)
			var values int64
			for pos < end {
				// A header is usually tens of bytes; one with large statistics may need more.
				var h format.PageHeader
				var used int
				for want := int64(256); ; want *= 4 {
					w := min(want, end-pos)
					if int64(cap(window)) < w {
						window = make([]byte, w)
					}
					window = window[:w]
					if _, err := ra.ReadAt(window, pos); err != nil && err != io.EOF {
						return err
					}
					var err error
					used, err = thriftStruct(window, 0)
					if err == nil {
						break
					}
					if !errors.Is(err, errThriftShort) || w == end-pos {
						return fmt.Errorf("column %s of row group %d: a page header is damaged: %w", col, i, err)
					}
				}
				if err := thrift.Unmarshal(new(thrift.CompactProtocol), window[:used], &h); err != nil {
					return fmt.Errorf("column %s of row group %d: a page header is damaged: %w", col, i, err)
				}
				body := int64(h.CompressedPageSize)
				if body < 0 || body > end-pos-int64(used) {
					return fmt.Errorf("column %s of row group %d: a page of %d bytes runs past its column chunk", col, i, body)
				}
				raw := int64(h.UncompressedPageSize)
				if raw < 0 || raw > maxParquetPage || raw > maxParquetExpansion*body+4096 {
					return fmt.Errorf("column %s of row group %d: a page declares %d bytes uncompressed from %d (the limit is %d MiB a page)", col, i, raw, body, maxParquetPage>>20)
				}
				n := int64(-1)
				if d, ok := h.DataPageHeader.Get(); ok {
					n = int64(d.NumValues)
				} else if d, ok := h.DataPageHeaderV2.Get(); ok {
					n = int64(d.NumValues)
				} else if d, ok := h.DictionaryPageHeader.Get(); ok {
					n = int64(d.NumValues)
				}
				if n > maxParquetPageValues || n > maxParquetExpansion*size {
					return fmt.Errorf("column %s of row group %d: a page declares %d values (the limit is %d)", col, i, n, maxParquetPageValues)
				}
				if _, ok := h.DictionaryPageHeader.Get(); !ok && n > 0 {
					values += n
				}
				// A version 2 data page starts with its levels, uncompressed; the values
				// after them may be compressed.
				levels, compressed := int64(0), true
				if d, ok := h.DataPageHeaderV2.Get(); ok {
					levels = int64(d.RepetitionLevelsByteLength) + int64(d.DefinitionLevelsByteLength)
					compressed = d.IsCompressed.V || !d.IsCompressed.Valid
					if levels < 0 || levels > body || levels > raw {
						return fmt.Errorf("column %s of row group %d: a page's levels do not fit in it", col, i)
					}
				}
				if compressed {
					if err := checkCompressed(ra, m.Codec, pos+int64(used)+levels, body-levels, raw-levels); err != nil {
						return fmt.Errorf("column %s of row group %d: %w", col, i, err)
					}
				}
				pos += int64(used) + body
			}
			if values > maxParquetExpansion*size {
				return fmt.Errorf("column %s of row group %d declares %d values, more than the file can hold", col, i, values)
			}
		}
	}
	return nil
}

// checkCompressed checks that a compressed page body does not declare more than raw bytes.
// (GZIP cannot expand more than maxParquetExpansion times, which checkPages already bounds.)
func checkCompressed(ra io.ReaderAt, codec format.CompressionCodec, at, n, raw int64) error {
	switch codec {
	case format.Snappy:
		var head [binary.MaxVarintLen32]byte
		k := min(int64(len(head)), n)
		if _, err := ra.ReadAt(head[:k], at); err != nil && err != io.EOF {
			return err
		}
		v, w := binary.Uvarint(head[:k])
		if w <= 0 || v > uint64(raw) {
			return fmt.Errorf("a SNAPPY page declares %d bytes, its header %d", v, raw)
		}
	case format.Zstd:
		body := make([]byte, n)
		if _, err := ra.ReadAt(body, at); err != nil && err != io.EOF {
			return err
		}
		most, err := zstdContentSize(body)
		if err != nil {
			return fmt.Errorf("a ZSTD page: %w", err)
		}
		// Decoding appends to a buffer of the page's size: a page whose frames can make more
		// than the page's size plus its largest block would grow it beyond.
		if most > uint64(raw)+128<<10 {
			return fmt.Errorf("a ZSTD page can decode to %d bytes, its header says %d", most, raw)
		}
	}
	return nil
}

// zstdContentSize bounds what the frames of b decode to: the content size a frame declares,
// else what its blocks can make at most (a raw block its size, an RLE block the size it
// repeats to, a compressed block the frame's largest block). A frame asking for a window
// over 8 MiB is refused.
func zstdContentSize(b []byte) (uint64, error) {
	var total uint64
	for len(b) > 0 {
		if len(b) < 8 {
			return 0, errors.New("a frame is truncated")
		}
		magic := binary.LittleEndian.Uint32(b)
		if magic&0xFFFFFFF0 == 0x184D2A50 { // a skippable frame
			n := uint64(binary.LittleEndian.Uint32(b[4:]))
			if n > uint64(len(b)-8) {
				return 0, errors.New("a skippable frame is truncated")
			}
			b = b[8+n:]
			continue
		}
		if magic != 0xFD2FB528 {
			return 0, errors.New("not a zstd frame")
		}
		fhd := b[4]
		single := fhd&0x20 != 0
		p := 5
		window := uint64(0)
		if !single {
			exp, mant := uint64(b[p]>>3), uint64(b[p]&7)
			if exp+10 > 23 {
				return 0, errors.New("a frame asks for a window over 8 MiB")
			}
			base := uint64(1) << (exp + 10)
			window = base + base/8*mant
			p++
		}
		p += [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
		fcsLen := [4]int{0, 2, 4, 8}[fhd>>6]
		if fcsLen == 0 && single {
			fcsLen = 1
		}
		if p+fcsLen > len(b) {
			return 0, errors.New("a frame header is truncated")
		}
		var fcs uint64
		for k := fcsLen - 1; k >= 0; k-- {
			fcs = fcs<<8 | uint64(b[p+k])
		}
		if fcsLen == 2 {
			fcs += 256
		}
		if single {
			window = fcs
		}
		p += fcsLen
		maxBlock := min(window, 128<<10)
		var blocks uint64
		for {
			if p+3 > len(b) {
				return 0, errors.New("a block is truncated")
			}
			h := uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16
			p += 3
			size := int(h >> 3)
			switch (h >> 1) & 3 {
			case 0: // raw
				blocks += uint64(size)
			case 1: // RLE: one byte repeated size times
				blocks += uint64(size)
				size = 1
			case 2:
				blocks += maxBlock
			default:
				return 0, errors.New("a block of a reserved type")
			}
			if p+size > len(b) {
				return 0, errors.New("a block is truncated")
			}
			p += size
			if h&1 != 0 {
				break
			}
		}
		if fcsLen > 0 {
			blocks = min(blocks, fcs)
		}
		if total += blocks; total > math.MaxInt32 {
			return 0, errors.New("frames that decode to more than 2 GiB")
		}
		if fhd&4 != 0 { // content checksum
			p += 4
		}
		if p > len(b) {
			return 0, errors.New("a frame is truncated")
		}
		b = b[p:]
	}
	return total, nil
}

// errThriftShort: the bytes end inside the structure (more may be read).
var errThriftShort = errors.New("truncated")

// thriftStruct walks a Thrift compact-protocol struct at b without allocating and returns its
// length, checking that every length and count fits in the bytes that follow it.
func thriftStruct(b []byte, depth int) (int, error) {
	if depth > 32 {
		return 0, errors.New("nested too deep")
	}
	p := 0
	for {
		if p >= len(b) {
			return 0, errThriftShort
		}
		h := b[p]
		p++
		if h == 0 { // stop
			return p, nil
		}
		typ := h & 0x0f
		if h>>4 == 0 { // the field ID is not a delta: a zig-zag varint follows (its value is not needed)
			_, n := binary.Uvarint(b[p:])
			if n <= 0 {
				return 0, errThriftShort
			}
			p += n
		}
		n, err := thriftValue(b[p:], typ, depth)
		if err != nil {
			return 0, err
		}
		p += n
	}
}

func thriftValue(b []byte, typ byte, depth int) (int, error) {
	switch typ {
	case 1, 2: // booleans in a field header
		return 0, nil
	case 3: // byte
		if len(b) < 1 {
			return 0, errThriftShort
		}
		return 1, nil
	case 4, 5, 6: // varints
		_, n := binary.Uvarint(b)
		if n <= 0 {
			if n == 0 {
				return 0, errThriftShort
			}
			return 0, errors.New("a varint overflows")
		}
		return n, nil
	case 7: // double
		if len(b) < 8 {
			return 0, errThriftShort
		}
		return 8, nil
	case 8: // binary
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errThriftShort
		}
		if v > uint64(len(b)-n) {
			if v > math.MaxInt32 {
				return 0, fmt.Errorf("a string of %d bytes", v)
			}
			return 0, errThriftShort
		}
		return n + int(v), nil
	case 9, 10: // list, set
		if len(b) < 1 {
			return 0, errThriftShort
		}
		count, elem, p := uint64(b[0]>>4), b[0]&0x0f, 1
		if count == 15 {
			v, n := binary.Uvarint(b[1:])
			if n <= 0 {
				return 0, errThriftShort
			}
			count, p = v, 1+n
		}
		return thriftElems(b, p, count, []byte{elem}, depth)
	case 11: // map
		count, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errThriftShort
		}
		if count == 0 {
			return n, nil
		}
		if len(b) < n+1 {
			return 0, errThriftShort
		}
		kv := b[n]
		return thriftElems(b, n+1, count, []byte{kv >> 4, kv & 0x0f}, depth)
	case 12: // struct
		return thriftStruct(b, depth+1)
	}
	return 0, fmt.Errorf("an unknown Thrift type %d", typ)
}

// thriftElems walks count elements (each of the types in types, in turn) from b[p:].
func thriftElems(b []byte, p int, count uint64, types []byte, depth int) (int, error) {
	// Every element takes at least one byte: a count beyond the bytes left is damage.
	if count > uint64(len(b)-p) {
		if count > math.MaxInt32 {
			return 0, fmt.Errorf("a list of %d elements", count)
		}
		return 0, errThriftShort
	}
	for i := uint64(0); i < count; i++ {
		for _, t := range types {
			if t == 1 || t == 2 { // a boolean element is a byte
				t = 3
			}
			n, err := thriftValue(b[p:], t, depth+1)
			if err != nil {
				return 0, err
			}
			p += n
		}
	}
	return p, nil
}

// parquetAt returns r as a Parquet file it can read at random, if r is one (a file, or bytes
// in memory): Parquet's metadata is at its end.
func parquetAt(r io.Reader) (io.ReaderAt, int64, bool) {
	ra, ok := r.(io.ReaderAt)
	sk, ok2 := r.(io.Seeker)
	if !ok || !ok2 {
		return nil, 0, false
	}
	var magic [4]byte
	if n, _ := ra.ReadAt(magic[:], 0); n < 4 || string(magic[:]) != parquetMagic {
		return nil, 0, false
	}
	size, err := sk.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, false
	}
	return ra, size, true
}

// spoolParquet copies a Parquet stream (an HTTP upload) to an unlinked temporary file, which
// the reader closes.
func spoolParquet(r io.Reader, name string) (*parquetSource, error) {
	f, err := os.CreateTemp("", "partnerlink-usage-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file for a Parquet upload: %w (set TMPDIR to a directory with free space)", err)
	}
	os.Remove(f.Name())
	size, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: reading the Parquet upload: %w", name, err)
	}
	p, err := openParquet(f, size, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.spool = f
	return p, nil
}

func (p *parquetSource) close() {
	if p.spool != nil {
		p.spool.Close()
		p.spool = nil
	}
}
