package usage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Tag is one tag of a record.
type Tag struct{ Key, Value string }

// CanonicalTags reads a Tags value as exports write it and returns it in canonical form: a JSON
// object whose keys are sorted (bytewise) and whose values are all strings, written without
// spaces and with only the escapes JSON requires. "" (no tags) for an empty value, NULL or {}.
//
// What is accepted (FOCUS's KeyValueFormat, as real exports write it):
//   - a JSON object whose values are strings, numbers, true, false or null; keys are kept
//     verbatim (" org", "ms:Department");
//   - Azure's form without the braces (`"env": "prod", "team": "web"`);
//   - a number or boolean is kept as its JSON text ("42", "1.50", "true"); null becomes "" (the
//     key is kept: a tag that is present without a value).
//
// A nested object or array, a repeated key or text that is not JSON is an error (the reason is
// returned).
func CanonicalTags(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "NULL" || s == "{}" {
		return "", nil
	}
	if s[0] != '{' {
		s = "{" + s + "}"
	}
	pairs, err := scanTags(s)
	if err != nil {
		return "", err
	}
	if len(pairs) == 0 {
		return "", nil
	}
	slices.SortFunc(pairs, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	for i := 1; i < len(pairs); i++ {
		if pairs[i].Key == pairs[i-1].Key {
			return "", fmt.Errorf("tag %q appears twice", pairs[i].Key)
		}
	}
	b := make([]byte, 0, len(s))
	b = append(b, '{')
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p.Key)
		b = append(b, ':')
		b = appendJSONString(b, p.Value)
	}
	b = append(b, '}')
	if string(b) == s {
		return s, nil
	}
	return string(b), nil
}

// TagsOf returns the tags of a canonical Tags value, sorted by key.
func TagsOf(canonical string) []Tag {
	if canonical == "" {
		return nil
	}
	pairs, err := scanTags(canonical)
	if err != nil {
		return nil // canonical values always scan
	}
	return pairs
}

// scanTags reads a JSON object of scalar values, in order.
func scanTags(s string) ([]Tag, error) {
	p := tagScanner{s: s}
	p.space()
	if !p.eat('{') {
		return nil, p.fail("a JSON object starts with {")
	}
	var out []Tag
	p.space()
	if p.eat('}') {
		return out, p.end()
	}
	for {
		p.space()
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(':') {
			return nil, p.fail(fmt.Sprintf("a : after the key %q", k))
		}
		p.space()
		v, err := p.value(k)
		if err != nil {
			return nil, err
		}
		out = append(out, Tag{k, v})
		p.space()
		if p.eat('}') {
			return out, p.end()
		}
		if !p.eat(',') {
			return nil, p.fail(fmt.Sprintf("a , or } after the value of %q", k))
		}
	}
}

type tagScanner struct {
	s string
	i int
}

func (p *tagScanner) fail(want string) error {
	if p.i >= len(p.s) {
		return fmt.Errorf("is not a JSON object of tags: it ends where %s was expected", want)
	}
	return fmt.Errorf("is not a JSON object of tags: at byte %d, %s was expected", p.i+1, want)
}

func (p *tagScanner) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *tagScanner) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *tagScanner) end() error {
	p.space()
	if p.i != len(p.s) {
		return p.fail("nothing after the closing }")
	}
	return nil
}

// str reads a JSON string.
func (p *tagScanner) str() (string, error) {
	if !p.eat('"') {
		return "", p.fail("a quoted key")
	}
	start, escaped := p.i, false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			raw := p.s[start:p.i]
			p.i++
			if !escaped {
				return raw, nil
			}
			var out string
			if err := json.Unmarshal([]byte(p.s[start-1:p.i]), &out); err != nil {
				return "", fmt.Errorf("is not a JSON object of tags: the string %q has a bad escape", raw)
			}
			return out, nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return "", fmt.Errorf("is not a JSON object of tags: a string holds the control character %#x (escape it)", c)
		default:
			p.i++
		}
	}
	return "", p.fail("the closing quote of a string")
}

// value reads a scalar JSON value as a tag value's text.
func (p *tagScanner) value(key string) (string, error) {
	if p.i >= len(p.s) {
		return "", p.fail(fmt.Sprintf("the value of %q", key))
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '{' || c == '[':
		return "", fmt.Errorf("the value of tag %q is an object or array; tag values are strings, numbers or booleans", key)
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		for p.i < len(p.s) && strings.IndexByte("+-.eE0123456789", p.s[p.i]) >= 0 {
			p.i++
		}
		num := p.s[start:p.i]
		if !json.Valid([]byte(num)) {
			return "", fmt.Errorf("the value of tag %q, %s, is not a JSON number", key, num)
		}
		return num, nil
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if strings.HasPrefix(p.s[p.i:], lit) {
			p.i += len(lit)
			if lit == "null" {
				return "", nil
			}
			return lit, nil
		}
	}
	return "", p.fail(fmt.Sprintf("the value of %q (a string, number, true, false or null)", key))
}

// appendJSONString appends s as a JSON string with only the escapes JSON requires (no HTML
// escaping: tags are data, not markup).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
				continue
			}
			b = append(b, s[i:i+n]...)
			i += n - 1
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
