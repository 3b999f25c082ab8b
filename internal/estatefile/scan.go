package estatefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// scanner reads the estate file for the bulk path: it finds where each JSON value ends
// (strings, escapes and nesting, no decoding) so that a value can be handed whole to
// encoding/json, or, for the millions of principals and assignments, to the small parsers
// below, which read the plain shape the tools write (exact key names, strings without escapes)
// and leave anything else to encoding/json. It knows the line and column of every byte it
// still holds, for error messages.
type scanner struct {
	r      io.Reader
	buf    []byte
	pos    int   // next byte to read in buf
	off    int64 // file offset of buf[0]
	lines  int64 // newlines before buf[0]
	lastNL int64 // file offset of the last newline before buf[0], -1 for none
	eof    bool
	err    error // a read error other than io.EOF
	base   string
}

func newScanner(r io.Reader, base string) *scanner {
	return &scanner{r: r, lastNL: -1, base: base}
}

// more reads at least one more byte into buf, keeping what is there (indexes stay valid).
func (s *scanner) more() bool {
	if s.eof || s.err != nil {
		return false
	}
	if cap(s.buf)-len(s.buf) < 64<<10 {
		nb := make([]byte, len(s.buf), 2*cap(s.buf)+256<<10)
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if errors.Is(err, io.EOF) {
		s.eof = true
	} else if err != nil {
		s.err = err
	}
	return n > 0 || !s.eof && s.err == nil
}

// release forgets the bytes before pos once they are many: between values only, since it
// moves buf.
func (s *scanner) release() {
	if s.pos < 1<<20 {
		return
	}
	done := s.buf[:s.pos]
	s.lines += int64(bytes.Count(done, []byte{'\n'}))
	if i := bytes.LastIndexByte(done, '\n'); i >= 0 {
		s.lastNL = s.off + int64(i)
	}
	s.off += int64(s.pos)
	n := copy(s.buf, s.buf[s.pos:])
	s.buf = s.buf[:n]
	s.pos = 0
}

// peek skips white space and returns the next byte (0 at the end of the input).
func (s *scanner) peek() byte {
	for {
		for s.pos < len(s.buf) {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c
			}
		}
		if !s.more() {
			return 0
		}
	}
}

// value returns the next JSON value's bytes (valid until release) and its file offset.
func (s *scanner) value() ([]byte, int64, error) {
	if s.peek() == 0 {
		return nil, s.abs(s.pos), s.endErr()
	}
	start := s.pos
	i, depth, inString := start, 0, false
	quote := -1 // index of the next '"' in buf at or after i while in a string, once found
	for {
		for i < len(s.buf) {
			if inString {
				// Skip to the string's end, or to an escape, with vectorised searches rather
				// than byte by byte: GUIDs and scopes are most of the file.
				if quote < i {
					quote = -1
					if q := bytes.IndexByte(s.buf[i:], '"'); q >= 0 {
						quote = i + q
					}
				}
				end := quote
				if end < 0 {
					end = len(s.buf)
				}
				if b := bytes.IndexByte(s.buf[i:end], '\\'); b >= 0 {
					i += b + 2 // the escaped byte cannot end the string
					continue
				}
				if quote < 0 {
					i = len(s.buf)
					break
				}
				i = quote + 1
				inString = false
				if depth == 0 {
					return s.take(start, i)
				}
				continue
			}
			switch s.buf[i] {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth <= 0 {
					return s.take(start, i+1)
				}
			case ',', ' ', '\t', '\n', '\r', ':':
				if depth == 0 && i > start {
					return s.take(start, i) // the end of a number or literal
				}
			}
			i++
		}
		if !s.more() {
			if depth == 0 && !inString && i > start {
				return s.take(start, i)
			}
			return nil, s.abs(start), s.endErr()
		}
	}
}

func (s *scanner) take(start, end int) ([]byte, int64, error) {
	s.pos = end
	return s.buf[start:end], s.abs(start), nil
}

func (s *scanner) endErr() error {
	if s.err != nil {
		return s.err
	}
	return io.ErrUnexpectedEOF
}

// expect consumes byte c after white space.
func (s *scanner) expect(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.pos++
	return true
}

func (s *scanner) abs(i int) int64 { return s.off + int64(i) }

// position formats file offset off as ":line:col" (or a byte offset when it is not held).
func (s *scanner) position(off int64) string {
	if off < s.off || off > s.off+int64(len(s.buf)) {
		if s.base != "" {
			return fmt.Sprintf(" (%s, byte %d of its value)", s.base, off)
		}
		return fmt.Sprintf(" (byte %d)", off)
	}
	in := s.buf[:off-s.off]
	line := s.lines + int64(bytes.Count(in, []byte{'\n'})) + 1
	col := off - s.lastNL
	if i := bytes.LastIndexByte(in, '\n'); i >= 0 {
		col = int64(len(in) - i)
	}
	if s.base != "" {
		return fmt.Sprintf(" (%s, line %d column %d of its value)", s.base, line, col)
	}
	return fmt.Sprintf(":%d:%d", line, col)
}

// syntaxError turns a value that encoding/json cannot read into its error, with the position.
func (s *scanner) syntaxError(name, path string, raw []byte, start int64) error {
	var v any
	err := json.Unmarshal(raw, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s%s: %s: not valid JSON: %v", name, s.position(start+se.Offset), path, se)
	}
	if err == nil {
		err = errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("%s%s: %s: not valid JSON: %v", name, s.position(start), path, err)
}

// lexer reads one value of the plain shape; any other shape makes it fail (ok false) and the
// caller decodes the value with encoding/json instead, which gives its exact result or error.
type lexer struct {
	b      []byte
	i      int
	ok     bool
	recent *recentStrings // may be nil
}

// recentStrings are the last values of the fields that repeat from one element to the next
// (the tenant of a run of assignments, their role and kind, a principal's type): a value
// equal to the last one is that string again rather than a new copy of the same bytes.
type recentStrings [5]string

const (
	recentTenant = iota
	recentRole
	recentKind
	recentType
	recentHome
)

// strRecent is str for a field kept in recent slot.
func (l *lexer) strRecent(dst *string, slot int) {
	if l.recent == nil {
		l.str(dst)
		return
	}
	if l.null() {
		return
	}
	b, ok := l.raw()
	if !ok {
		l.ok = false
		return
	}
	if last := l.recent[slot]; string(b) == last {
		*dst = last
		return
	}
	*dst = string(b)
	l.recent[slot] = *dst
}

func (l *lexer) ws() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

func (l *lexer) is(c byte) bool {
	l.ws()
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	return false
}

// key reads `"name":` and returns name's bytes.
func (l *lexer) key() []byte {
	k, ok := l.raw()
	if !ok || !l.is(':') {
		l.ok = false
		return nil
	}
	return k
}

// raw reads a string without escapes or control characters, in valid UTF-8.
func (l *lexer) raw() ([]byte, bool) {
	l.ws()
	if l.i >= len(l.b) || l.b[l.i] != '"' {
		return nil, false
	}
	start, ascii := l.i+1, true
	for j := start; j < len(l.b); j++ {
		c := l.b[j]
		switch {
		case c == '"':
			l.i = j + 1
			if !ascii && !utf8.Valid(l.b[start:j]) {
				return nil, false // encoding/json replaces bad bytes; let it
			}
			return l.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

// str reads a string (null leaves *dst as it is, as encoding/json does).
func (l *lexer) str(dst *string) {
	if l.null() {
		return
	}
	b, ok := l.raw()
	if !ok {
		l.ok = false
		return
	}
	*dst = string(b)
}

// opt reads a string or null into an optional string.
func (l *lexer) opt(dst **string) {
	if l.null() {
		*dst = nil
		return
	}
	b, ok := l.raw()
	if !ok {
		l.ok = false
		return
	}
	v := string(b)
	*dst = &v
}

func (l *lexer) null() bool {
	l.ws()
	if bytes.HasPrefix(l.b[l.i:], []byte("null")) {
		l.i += 4
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling field for each key; field reads the value.
func (l *lexer) object(field func(key []byte)) {
	if !l.is('{') {
		l.ok = false
		return
	}
	if l.is('}') {
		return
	}
	for l.ok {
		k := l.key()
		if !l.ok {
			return
		}
		field(k)
		if l.is(',') {
			continue
		}
		if !l.is('}') {
			l.ok = false
		}
		return
	}
}

// array reads null or [elem, ...], calling elem for each element.
func (l *lexer) array(elem func()) {
	if l.null() {
		return
	}
	if !l.is('[') {
		l.ok = false
		return
	}
	if l.is(']') {
		return
	}
	for l.ok {
		elem()
		if l.is(',') {
			continue
		}
		if !l.is(']') {
			l.ok = false
		}
		return
	}
}

func (l *lexer) end() bool {
	l.ws()
	return l.ok && l.i == len(l.b)
}

// parseAssignment reads a role assignment of the plain shape into a (zeroed).
func parseAssignment(b []byte, a *RoleAssignment) bool { return parseAssignmentRecent(b, a, nil) }

// parseAssignmentRecent is parseAssignment reusing the strings of recent (see recentStrings).
func parseAssignmentRecent(b []byte, a *RoleAssignment, recent *recentStrings) bool {
	l := &lexer{b: b, ok: true, recent: recent}
	l.object(func(k []byte) {
		switch string(k) {
		case "id":
			l.str(&a.ID)
		case "tenantId":
			l.strRecent(&a.TenantID, recentTenant)
		case "principalId":
			l.str(&a.PrincipalID)
		case "roleDefinitionId":
			l.strRecent(&a.RoleDefinitionID, recentRole)
		case "scope":
			l.str(&a.Scope)
		case "kind":
			l.strRecent(&a.Kind, recentKind)
		case "from":
			l.opt(&a.From)
		case "to":
			l.opt(&a.To)
		case "activations":
			a.Activations = a.Activations[:0]
			l.array(func() {
				var w Window
				l.object(func(k []byte) {
					switch string(k) {
					case "from":
						l.opt(&w.From)
					case "to":
						l.opt(&w.To)
					default:
						l.ok = false
					}
				})
				a.Activations = append(a.Activations, w)
			})
		default:
			l.ok = false
		}
	})
	return l.end()
}

// parsePrincipal reads a principal of the plain shape into p (zeroed).
func parsePrincipal(b []byte, p *Principal) bool { return parsePrincipalRecent(b, p, nil) }

// parsePrincipalRecent is parsePrincipal reusing the strings of recent (see recentStrings).
func parsePrincipalRecent(b []byte, p *Principal, recent *recentStrings) bool {
	l := &lexer{b: b, ok: true, recent: recent}
	l.object(func(k []byte) {
		switch string(k) {
		case "tenantId":
			l.strRecent(&p.TenantID, recentTenant)
		case "objectId":
			l.str(&p.ObjectID)
		case "type":
			l.strRecent(&p.Type, recentType)
		case "displayName":
			l.str(&p.DisplayName)
		case "homeTenantId":
			l.strRecent(&p.HomeTenantID, recentHome)
		case "from":
			l.opt(&p.From)
		case "to":
			l.opt(&p.To)
		case "memberOf":
			p.MemberOf = p.MemberOf[:0]
			l.array(func() {
				var m Membership
				l.object(func(k []byte) {
					switch string(k) {
					case "groupId":
						l.str(&m.GroupID)
					case "from":
						l.opt(&m.From)
					case "to":
						l.opt(&m.To)
					default:
						l.ok = false
					}
				})
				p.MemberOf = append(p.MemberOf, m)
			})
		default:
			l.ok = false
		}
	})
	return l.end()
}
