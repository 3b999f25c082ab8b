package estatefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Problem is one error or warning in an estate file, with its JSON path.
type Problem struct {
	Path string // e.g. roleAssignments[3].roleDefinitionId
	Msg  string
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Decode reads an estate file. Unknown fields are errors when strict, warnings otherwise.
func Decode(r io.Reader, name string, strict bool) (*File, []Problem, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if err := oneObject(data, name); err != nil {
		return nil, nil, err
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(&f)
	if err == nil {
		return &f, nil, nil
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		p := Problem{Path: "$", Msg: "unknown field " + msg + " (not in the estate format; check its spelling)"}
		if strict {
			return nil, nil, fmt.Errorf("%s: %s (--strict)", name, p)
		}
		f = File{}
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, nil, syntaxError(name, data, err)
		}
		return &f, []Problem{p}, nil
	}
	return nil, nil, syntaxError(name, data, err)
}

// oneObject checks that data is one JSON object and nothing after it: a file that is
// `null`, a list, or an object followed by more (a second object, stray text) is refused
// rather than read as empty or in part.
func oneObject(data []byte, name string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return syntaxError(name, data, err)
	}
	if err := trailing(data, dec.InputOffset(), name); err != nil {
		return err
	}
	if raw[0] != '{' {
		return fmt.Errorf("%s:1:1: an estate file is a JSON object with partners, tenants, ... lists, not %s", name, jsonKind(raw))
	}
	return nil
}

// trailing refuses anything but white space after the JSON document that ends at off.
func trailing(data []byte, off int64, name string) error {
	rest := bytes.TrimLeft(data[off:], " \t\r\n")
	if len(rest) == 0 {
		return nil
	}
	line, col := position(data, int64(len(data)-len(rest)))
	return fmt.Errorf("%s:%d:%d: more data after the end of the JSON document (%.20q...); a file holds one JSON value: "+
		"put several pages or objects in one [ ... ] list", name, line, col, rest)
}

// jsonKind names the kind of a JSON value for messages.
func jsonKind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func syntaxError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		return fmt.Errorf("%s:%d:%d: not valid JSON: %v", name, line, col, se)
	case errors.As(err, &te):
		line, col := position(data, te.Offset)
		return fmt.Errorf("%s:%d:%d: %s must be %s, not a JSON %s", name, line, col, te.Field, te.Type, te.Value)
	}
	return fmt.Errorf("%s: %v", name, err)
}

func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	col = int(off) - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
