package estatefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Azure's tools print one kind of object in several shapes (docs/estate.md, "Azure exports"):
//
//   - the ARM REST list page, {"value": [{"id", "name", "type", "properties": {...}}], "nextLink"},
//     and Microsoft Graph's, {"@odata.context", "value": [{...flat...}], "@odata.nextLink"};
//   - several pages in one JSON list, [{"value": [...]}, {"value": [...]}] (or lists of lists);
//   - the objects as a bare list, [{...}, {...}];
//   - one object alone, {...};
//
// and each object either with its fields under "properties" (ARM) or flattened at the top
// level (az CLI, Microsoft Graph). readAzure finds the entries wherever the shape puts them,
// each with its JSON path, and says how it read the file; the adapters then read each entry's
// fields from wherever that entry has them.

// azDoc is an Azure export as read.
type azDoc struct {
	name    string
	hash    string
	shape   string // how the file was read, for the report
	entries []azEntry
	// continues is the path of the nextLink when the file ends on a page that names another:
	// the listing goes on beyond the file.
	continues string
}

// azEntry is one object of an export.
type azEntry struct {
	path  string          // JSON path of the object, e.g. $.value[3] or $[1].value[0]
	raw   json.RawMessage // the object
	props json.RawMessage // its "properties" object (ARM shape); nil when flat
}

// azTop are the ARM resource fields, always at the top level.
type azTop struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// page is a list page: "value" and, when the listing goes on, a next link.
type page struct {
	Value     []json.RawMessage `json:"value"`
	NextLink  *string           `json:"nextLink"`
	ODataNext *string           `json:"@odata.nextLink"`
	ODataCtx  *string           `json:"@odata.context"`
}

func readAzure(r io.Reader, name string) (*azDoc, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	d := &azDoc{name: name, hash: hex.EncodeToString(sum[:])}
	dec := json.NewDecoder(bytes.NewReader(data))
	var top json.RawMessage
	if err := dec.Decode(&top); err != nil {
		return nil, syntaxError(name, data, err)
	}
	if err := trailing(data, dec.InputOffset(), name); err != nil {
		return nil, err
	}
	r2 := &azReader{doc: d, data: data}
	switch top[0] {
	case '{':
		if isPage(top) {
			err = r2.page("$", top)
			d.shape = "one list page ({\"value\": [...]})"
		} else {
			err = r2.entry("$", top)
			d.shape = "one object"
		}
	case '[':
		err = r2.list(top)
	default:
		return nil, fmt.Errorf("%s:1:1: an Azure export is a JSON object, a list page ({\"value\": [...]}) or a list of them, not %s", name, jsonKind(top))
	}
	if err != nil {
		return nil, err
	}
	if !r2.sawFinal {
		d.continues = r2.lastNext
	}
	arm, flat := 0, 0
	for _, e := range d.entries {
		if e.props != nil {
			arm++
		} else {
			flat++
		}
	}
	switch {
	case arm > 0 && flat > 0:
		d.shape += fmt.Sprintf(", %s with fields under properties (ARM REST) and %d with flattened fields", plural(arm, "entry", "entries"), flat)
	case arm > 0:
		d.shape += fmt.Sprintf(", %s with fields under properties (ARM REST)", plural(arm, "entry", "entries"))
	case flat > 0:
		form := "az CLI"
		if r2.graph {
			form = "Microsoft Graph"
		}
		d.shape += fmt.Sprintf(", %s with flattened fields (%s)", plural(flat, "entry", "entries"), form)
	default:
		d.shape += ", no entries"
	}
	if d.continues != "" {
		d.shape += "; the listing continues beyond the file (" + d.continues + ")"
	}
	return d, nil
}

type azReader struct {
	doc   *azDoc
	data  []byte
	graph bool // a page said it is Microsoft Graph's (@odata.context)
	// sawFinal: some page has no next link, so the listing's last page is in the file;
	// lastNext is the path of the last next link seen.
	sawFinal bool
	lastNext string
}

// isPage: an object with a "value" key and no "properties" (no ARM resource has "value").
func isPage(obj json.RawMessage) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(obj, &keys) != nil {
		return false
	}
	_, v := keys["value"]
	_, p := keys["properties"]
	return v && !p
}

func (r *azReader) list(top json.RawMessage) error {
	var elems []json.RawMessage
	if err := json.Unmarshal(top, &elems); err != nil {
		return syntaxError(r.doc.name, r.data, err)
	}
	var pages, objects []int
	for i, e := range elems {
		switch {
		case e[0] == '[' || e[0] == '{' && isPage(e):
			pages = append(pages, i)
		case e[0] == '{':
			objects = append(objects, i)
		default:
			return fmt.Errorf("%s: $[%d] is %s; an export's list holds objects or list pages", r.doc.name, i, jsonKind(e))
		}
	}
	if len(pages) > 0 && len(objects) > 0 {
		return fmt.Errorf("%s: $[%d] is an object but $[%d] is a list page; a list holds either the objects or pages of them, not both",
			r.doc.name, objects[0], pages[0])
	}
	if len(pages) == 0 {
		r.doc.shape = "a list of " + plural(len(objects), "object", "objects")
		for _, i := range objects {
			if err := r.entry(fmt.Sprintf("$[%d]", i), elems[i]); err != nil {
				return err
			}
		}
		return nil
	}
	r.doc.shape = "a list of " + plural(len(pages), "page", "pages")
	for _, i := range pages {
		path := fmt.Sprintf("$[%d]", i)
		if elems[i][0] == '[' {
			// A list of lists: pages as a tool printed them without their envelope.
			var objs []json.RawMessage
			if err := json.Unmarshal(elems[i], &objs); err != nil {
				return syntaxError(r.doc.name, r.data, err)
			}
			r.sawFinal = true
			for j, o := range objs {
				if err := r.entry(fmt.Sprintf("%s[%d]", path, j), o); err != nil {
					return err
				}
			}
			continue
		}
		if err := r.page(path, elems[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *azReader) page(path string, obj json.RawMessage) error {
	var p page
	if err := json.Unmarshal(obj, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: %s.%s must be %s, not a JSON %s", r.doc.name, path, te.Field, azType(te.Type.String()), te.Value)
		}
		return syntaxError(r.doc.name, r.data, err)
	}
	if p.ODataCtx != nil {
		r.graph = true
	}
	next, nextPath := p.NextLink, path+".nextLink"
	if next == nil {
		next, nextPath = p.ODataNext, path+".@odata.nextLink"
	}
	if next != nil && *next != "" {
		r.lastNext = nextPath
	} else {
		r.sawFinal = true
	}
	for i, e := range p.Value {
		ep := fmt.Sprintf("%s.value[%d]", path, i)
		if e[0] != '{' {
			return fmt.Errorf("%s: %s is %s; a page's value holds objects", r.doc.name, ep, jsonKind(e))
		}
		if err := r.entry(ep, e); err != nil {
			return err
		}
	}
	return nil
}

func (r *azReader) entry(path string, obj json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return syntaxError(r.doc.name, r.data, err)
	}
	e := azEntry{path: path, raw: obj}
	if p, ok := fields["properties"]; ok && len(p) > 0 && p[0] == '{' {
		e.props = p
	}
	r.doc.entries = append(r.doc.entries, e)
	return nil
}

// field is the JSON path of one of the entry's own fields (under properties in the ARM shape).
func (e *azEntry) field(name string) string {
	if e.props != nil {
		return e.path + ".properties." + name
	}
	return e.path + "." + name
}

// top reads the ARM resource fields (id, name, type).
func (e *azEntry) top() azTop {
	var t azTop
	_ = json.Unmarshal(e.raw, &t) // a field of another type is left empty; the adapters check what they need
	return t
}

// decode reads the entry's own fields into v (fields v lacks are ignored: exports carry many
// the model does not use). A field of the wrong JSON type is a problem at its path.
func (e *azEntry) decode(v any) *Problem {
	src := e.raw
	if e.props != nil {
		src = e.props
	}
	err := json.Unmarshal(src, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &Problem{Path: e.field(te.Field), Msg: fmt.Sprintf("must be %s, not a JSON %s", azType(te.Type.String()), te.Value)}
	}
	return &Problem{Path: e.path, Msg: err.Error()}
}

// azType names a Go type the way a JSON user reads it.
func azType(t string) string {
	switch {
	case t == "string" || t == "*string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "an object"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
