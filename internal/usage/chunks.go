package usage

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unsafe"
)

// Splitting CSV on every core. encoding/csv reads one record at a time on one goroutine, and
// at a million rows a second that goroutine bounds the whole import. Instead, one goroutine
// cuts the stream into chunks of whole records (chunkReader: it only looks at quotes and line
// ends, which memchr-like scans do at memory speed), and the mapping goroutines split each
// chunk into fields (splitChunk) before mapping it.
//
// Both give exactly what encoding/csv gives (fields, line numbers, the bytes of each record
// as read), for the CSV they accept: quotes only around whole fields, doubled inside, and a
// closing quote followed by a comma or a line end. A record that encoding/csv would reject
// for its quotes (a bare quote, text after a closing quote, a quote left open at the end of
// the file) is never split here: the chunk ends before it, and from that record on the file
// is read by encoding/csv as before, so its errors are encoding/csv's own. Such files are
// rare and are read as fast as before, one goroutine splitting.

// chunkSize is how many bytes chunkReader reads at a time: enough rows (about 500 of a
// typical export) that handing a chunk to a goroutine costs nothing next to splitting it (a
// variable so that tests can cut chunks of a few bytes).
var chunkSize = 256 << 10

// chunkReader cuts a CSV stream, from a record boundary on, into chunks of whole records.
type chunkReader struct {
	free  chan []byte // buffers of chunks delivered, to use again (nil: none)
	r     io.Reader
	carry []byte // read, not yet returned: starts at a record boundary
	line  int    // the line carry starts on
	err   error  // how the stream ended, once it has
	limit int    // the most bytes a record may take (0: no limit)
}

// next returns the next chunk of whole records and the line it starts on. err is the
// stream's end (io.EOF) or read error once every record before it has been returned. When
// tail is true, the record at carry (the start of c.rest) is one for encoding/csv: the caller
// reads the rest of the stream with it, from c.rest(). Nothing writes a chunk's bytes once it
// is returned: splitter.record cuts strings out of them without copying.
func (c *chunkReader) next() (chunk []byte, line int, tail bool, err error) {
	for {
		if c.err == nil {
			// A buffer of its own each time, fresh or given back by free: the chunks returned
			// before are being split meanwhile. A record longer than the buffer doubles it.
			var buf []byte
			select {
			case buf = <-c.free: // (a nil free is never ready)
			default:
			}
			if n := max(chunkSize, 2*len(c.carry)); cap(buf) < n {
				buf = make([]byte, 0, n)
			}
			// The carry may lie in buf itself (its chunk delivered and given back since):
			// append moves it to the front as memmove does.
			buf = append(buf[:0], c.carry...)
			for len(buf) < cap(buf) && c.err == nil {
				n, err := c.r.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+n]
				c.err = err
			}
			c.carry = buf
		}
		eof := c.err == io.EOF
		cut, bad := scanRecords(c.carry, eof)
		if cut == 0 && !bad && c.err == nil {
			if c.limit > 0 && len(c.carry) > c.limit {
				// Stop before holding a record of any size in memory.
				c.err = errRecordTooLong
				return nil, c.line, false, c.err
			}
			continue // not one whole record yet: read more
		}
		chunk, line = c.carry[:cut], c.line
		c.line += bytes.Count(chunk, []byte{'\n'})
		c.carry = c.carry[cut:]
		switch {
		case bad:
			return chunk, line, true, nil
		case c.err != nil && len(c.carry) > 0:
			// A read error in the middle of a record: encoding/csv decides what that record
			// is, as it always did.
			return chunk, line, true, nil
		case c.err != nil:
			return chunk, line, false, c.err
		}
		return chunk, line, false, nil
	}
}

// rest is the stream from the carried record on, for encoding/csv: a read error the stream
// already returned is returned again there, where the rest of the stream would have been.
func (c *chunkReader) rest() io.Reader {
	var after io.Reader = c.r
	if c.err != nil {
		after = errReader{c.err}
	}
	return io.MultiReader(bytes.NewReader(c.carry), after)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// scanRecords finds where the whole records at the start of b end (cut). b starts at a record
// boundary; eof says nothing follows b. bad is true when the record at cut is one encoding/csv
// would reject for its quotes (or whose quote is still open at the end of the file): the
// records before it are whole and well quoted. Only quotes and line ends are looked at: a
// quote outside a quoted field must open one, right after a comma or at the start of a line;
// inside one, a quote is doubled or closes it, followed by a comma or a line end.
func scanRecords(b []byte, eof bool) (cut int, bad bool) {
	// Every line end outside quotes ends a record; the cut is after the last of them, so only
	// the last quote-free span holding one is searched for it, at the end. (Searching every
	// span backwards, byte by byte, took a tenth of the import's serial goroutine.)
	var nlFrom, nlTo int
	last := func() int {
		if nlTo == 0 {
			return 0
		}
		return backOverBlankLines(b, nlFrom+bytes.LastIndexByte(b[nlFrom:nlTo], '\n')+1)
	}
	p := 0
	for {
		q := bytes.IndexByte(b[p:], '"')
		end := len(b)
		if q >= 0 {
			end = p + q
		}
		if bytes.IndexByte(b[p:end], '\n') >= 0 {
			nlFrom, nlTo = p, end
		}
		if q < 0 {
			if eof {
				return len(b), false // the last record needs no line end
			}
			return last(), false
		}
		q += p
		if q > 0 && b[q-1] != ',' && b[q-1] != '\n' {
			return last(), true // a bare quote
		}
		// Inside a quoted field: find the quote that closes it.
		p = q + 1
		for {
			q := bytes.IndexByte(b[p:], '"')
			if q < 0 {
				return last(), eof // open at the end of the file, or more to read
			}
			q += p
			if q+1 == len(b) || (b[q+1] == '\r' && q+2 == len(b)) {
				if eof {
					return len(b), false // closed at the end of the file (a last \r is dropped)
				}
				return last(), false // doubled or not: read more to know
			}
			if b[q+1] == '"' {
				p = q + 2
				continue
			}
			if c := b[q+1]; c != ',' && c != '\n' && (c != '\r' || b[q+2] != '\n') {
				return last(), true // text after the closing quote
			}
			p = q + 1
			break
		}
	}
}

// backOverBlankLines moves a cut (just after a record's line end) back before the blank lines
// that precede it, so that they stay with the record after them: encoding/csv skips blank
// lines, and the bytes kept for a bad row run from the end of the record before it.
func backOverBlankLines(b []byte, cut int) int {
	for cut >= 2 {
		switch {
		case b[cut-2] == '\n':
			cut-- // an empty line
		case b[cut-2] == '\r' && cut >= 3 && b[cut-3] == '\n':
			cut -= 2 // a line of only \r\n, which encoding/csv reads as empty
		default:
			return cut
		}
	}
	return cut
}

// splitter splits chunks on one goroutine (it reuses its buffers).
type splitter struct {
	header int // fields in the header: a record with another count is a bad row
	fields []string
	arena  []byte // see unquote
}

// split returns chunk's records as Reader.readRow makes them from encoding/csv: blank lines
// and blank records skipped, a record with the wrong number of fields bad. line is the line
// chunk starts on. The fields of the rows share a few arrays and each record's strings one
// allocation, as encoding/csv's do.
func (r *Reader) split(s *splitter, chunk []byte, line int, rows []row, all []string) ([]row, []string, error) {
	all = all[:0]
	p, rawStart := 0, 0
	for p < len(chunk) {
		// Blank lines are skipped; their bytes belong to the next record's.
		if chunk[p] == '\n' {
			p, line = p+1, line+1
			continue
		}
		if chunk[p] == '\r' && (p+1 == len(chunk) || chunk[p+1] == '\n') {
			p, line = p+2, line+1 // \r\n, or a last \r, which encoding/csv drops
			continue
		}
		recLine := line
		var err error
		s.fields = s.fields[:0]
		p, line, err = s.record(chunk, p, line)
		if err != nil {
			return rows, all, fmt.Errorf("%s: line %d: %w", r.name, recLine, err)
		}
		raw := chunk[rawStart:p:p]
		rawStart = p
		if len(all)+len(s.fields) > cap(all) {
			// Sized by what the chunk holds, not by the header: a chunk may be one short row.
			all = make([]string, 0, max(2*cap(all), 8*len(s.fields)))
		}
		n := len(all)
		all = append(all, s.fields...)
		fields := all[n:len(all):len(all)]
		if len(fields) != s.header {
			reason := fmt.Sprintf("has %d columns, the header has %d", len(fields), s.header)
			if r.ndjson && len(fields) == 1 {
				reason = fields[0] // NDJSON: the converter put the reason for a bad line in its only field
			}
			rows = append(rows, row{bad: r.bad(recLine, "", reason, raw)})
			continue
		}
		if blank(fields) {
			continue
		}
		rows = append(rows, row{fields: fields, line: recLine, raw: raw})
	}
	return rows, all, nil
}

// record splits the record at chunk[p:] into s.fields and returns where the next one starts
// and its line. The chunk holds whole, well-quoted records (scanRecords checked them).
func (s *splitter) record(chunk []byte, p, line int) (int, int, error) {
	// The record's text, once, as a string its unquoted fields are cut from; only quoted
	// fields with a doubled quote or a \r\n inside are copied again.
	end := p
	for {
		nl := bytes.IndexByte(chunk[end:], '\n')
		lim := len(chunk)
		if nl >= 0 {
			lim = end + nl
		}
		q := bytes.IndexByte(chunk[end:lim], '"')
		if q < 0 {
			end = min(lim+1, len(chunk))
			break
		}
		// A quoted field: skip to its closing quote (line ends inside it do not end the
		// record).
		end += q + 1
		for {
			c := bytes.IndexByte(chunk[end:], '"')
			if c < 0 {
				return 0, 0, errSplit
			}
			end += c + 1
			if end < len(chunk) && chunk[end] == '"' {
				end++
				continue
			}
			break
		}
	}
	text := chunk[p:end]
	next := end
	// The line end: \n, \r\n, or (at the end of the file) none or a lone \r.
	switch n := len(text); {
	case n >= 2 && text[n-2] == '\r' && text[n-1] == '\n':
		text = text[:n-2]
	case n >= 1 && (text[n-1] == '\n' || text[n-1] == '\r'):
		text = text[:n-1]
	}
	// A view of the chunk, not a copy: chunkReader gives every chunk a buffer of its own that
	// nothing writes once it is cut, so the view never changes. (A copy per record was 1.4 s
	// of CPU at 10 M rows.) A record kept after fn returns keeps its chunk alive.
	var str string
	if len(text) > 0 {
		str = unsafe.String(&text[0], len(text))
	}
	i := 0
	for {
		if i < len(str) && str[i] == '"' {
			// Quoted: up to the quote that is not doubled.
			j := i + 1
			plain := true
			for {
				c := strings.IndexByte(str[j:], '"')
				if c < 0 {
					return 0, 0, errSplit
				}
				j += c
				if j+1 < len(str) && str[j+1] == '"' {
					plain = false
					j += 2
					continue
				}
				break
			}
			f := str[i+1 : j]
			if strings.IndexByte(f, '\n') >= 0 {
				line += strings.Count(f, "\n")
				if strings.Contains(f, "\r\n") {
					plain = false
				}
			}
			if !plain {
				f = s.unquote(f)
			}
			s.fields = append(s.fields, f)
			i = j + 1
			if i == len(str) {
				break
			}
			if str[i] != ',' {
				return 0, 0, errSplit
			}
			i++
			continue
		}
		c := strings.IndexByte(str[i:], ',')
		if c < 0 {
			s.fields = append(s.fields, str[i:])
			break
		}
		s.fields = append(s.fields, str[i:i+c])
		i += c + 1
	}
	if next > 0 && chunk[next-1] == '\n' {
		line++
	}
	return next, line, nil
}

// unquote undoes the doubling of quotes and reads \r\n as \n, as encoding/csv does inside a
// quoted field. The results are carved from an arena instead of one allocation each (a
// FOCUS export's Tags are JSON, quoted on every row); a kept field keeps its arena alive, as
// a kept record keeps its chunk.
func (s *splitter) unquote(f string) string {
	if cap(s.arena)-len(s.arena) < len(f) {
		s.arena = make([]byte, 0, max(unquoteArena, len(f)))
	}
	from := len(s.arena)
	b := s.arena
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '"' && i+1 < len(f) && f[i+1] == '"':
			i++
		case f[i] == '\r' && i+1 < len(f) && f[i+1] == '\n':
			continue
		}
		b = append(b, f[i])
	}
	s.arena = b // never grown here: len(f) bytes were free
	if len(b) == from {
		return ""
	}
	return unsafe.String(&b[from], len(b)-from)
}

const unquoteArena = 64 << 10

// errSplit means a chunk was not the well-quoted CSV scanRecords let through: a bug, not a
// property of the file.
var errSplit = fmt.Errorf("internal error: splitting a CSV chunk disagreed with scanning it")
