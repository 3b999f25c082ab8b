package estatefile

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

var plainShapes = []string{
	`{"id": "A", "tenantId": "t", "principalId": "p", "roleDefinitionId": "r", "scope": "/s", "kind": "active", "from": null, "to": null}`,
	`{"id":"A","from":"2026-01-01T00:00:00Z","to":"2026-02-01T00:00:00Z","activations":[{"from":"x","to":null},{"to":"y","from":"z"}]}`,
	`{"id": "A", "activations": []}`,
	`{"id": "A", "activations": null}`,
	`{}`,
	`{"id": "A", "id": "B"}`,
	`{"id": null, "kind": "eligible"}`,
	`{"id": "Ünïcode ✓"}`,
	"{\"id\": \"bad \xff utf8\"}",
	`{"id": "esc \" \\ \u00e9"}`,
	`{"ID": "case"}`,
	`{"id": 7}`,
	`{"id": "A", "region": "EU"}`,
	`{"id": "A", "activations": [{"from": "x", "extra": 1}]}`,
	`{"id": "A",}`,
	`{"id": "A" "kind": "active"}`,
	`{"from": 1}`,
	`{"id": "A"} x`,
	`{"tenantId": "t", "objectId": "o", "type": "Group", "displayName": "Ops", "homeTenantId": "h", "memberOf": [{"groupId": "g", "from": null, "to": "2026-01-01T00:00:00Z"}]}`,
	`{"tenantId": "t", "memberOf": [{"groupId": "g", "from": null, "to": null}], "from": "2026-01-01T00:00:00Z"}`,
	`{"objectId": "o", "memberOf": [{"groupId": "g", "role": "x"}]}`,
}

// checkSame: when a plain-shape parser accepts a value, it must read what encoding/json reads.
func checkSame[T any](t *testing.T, in []byte, parse func([]byte, *T) bool) {
	t.Helper()
	var fast T
	if !parse(in, &fast) {
		return
	}
	var want T
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil || dec.More() {
		t.Fatalf("%q: the plain parser accepted what encoding/json rejects (%v)", in, err)
	}
	if !reflect.DeepEqual(normalise(fast), normalise(want)) {
		t.Fatalf("%q:\nplain parser  %+v\nencoding/json %+v", in, fast, want)
	}
}

// normalise treats empty and nil lists alike (the import only ranges over them).
func normalise(v any) any {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(strings.ReplaceAll(string(b), `"activations":[]`, ``), `"memberOf":[]`, ``)
}

func TestPlainParsersAgreeWithEncodingJSON(t *testing.T) {
	accepted := 0
	// The parsers that keep recent strings, across all shapes (twice: every value repeats).
	var ra, rp recentStrings
	recentA := func(b []byte, a *RoleAssignment) bool { return parseAssignmentRecent(b, a, &ra) }
	recentP := func(b []byte, p *Principal) bool { return parsePrincipalRecent(b, p, &rp) }
	for _, in := range append(plainShapes, plainShapes...) {
		checkSame(t, []byte(in), parseAssignment)
		checkSame(t, []byte(in), parsePrincipal)
		checkSame(t, []byte(in), recentA)
		checkSame(t, []byte(in), recentP)
		var a RoleAssignment
		var p Principal
		if parseAssignment([]byte(in), &a) || parsePrincipal([]byte(in), &p) {
			accepted++
		}
	}
	if accepted < 8 {
		t.Fatalf("the plain parsers accepted only %d of the plain shapes", accepted)
	}
}

func FuzzPlainParsers(f *testing.F) {
	for _, in := range plainShapes {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkSame(t, in, parseAssignment)
		checkSame(t, in, parsePrincipal)
	})
}

// TestScannerValueBounds: value finds where each value ends, whatever its strings hold.
func TestScannerValueBounds(t *testing.T) {
	in := ` {"a": "x\"}]", "b": [1, {"c": null}]} , "s\\" ,12.5e3,true, null ]`
	want := []string{`{"a": "x\"}]", "b": [1, {"c": null}]}`, `"s\\"`, `12.5e3`, `true`, `null`}
	sc := newScanner(strings.NewReader(in), "")
	for i, w := range want {
		raw, start, err := sc.value()
		if err != nil || string(raw) != w || in[start:int(start)+len(raw)] != w {
			t.Fatalf("value %d = %q at %d (%v), want %q", i, raw, start, err, w)
		}
		sc.expect(',')
	}
	if !sc.expect(']') {
		t.Fatal("the closing bracket is not next")
	}
	if _, _, err := newScanner(strings.NewReader(`{"a": [1, 2`), "").value(); err == nil {
		t.Fatal("a value cut short was read")
	}
}

func TestPrincipalTypes(t *testing.T) {
	var pt principalTypes
	tenant, object := "11111111-0000-4000-8000-00000000000A", "33333333-0000-4000-8000-00000000000b"
	pt.set(tenant, object, "Group")
	pt.set("not-a-guid", object, "User")
	pt.set(tenant, "33333333-0000-4000-8000-000000000002", "User")
	if typ, ok := pt.get(strings.ToLower(tenant), strings.ToLower(object)); !ok || typ != "Group" {
		t.Fatalf("get = %q, %v", typ, ok)
	}
	if typ, ok := pt.get(tenant, "33333333-0000-4000-8000-000000000002"); !ok || typ != "User" {
		t.Fatalf("get = %q, %v", typ, ok)
	}
	for _, k := range [][2]string{{tenant, "33333333-0000-4000-8000-000000000003"}, {"not-a-guid", object}, {tenant, "33333333-0000-4000-8000-00000000000g"}} {
		if typ, ok := pt.get(k[0], k[1]); ok {
			t.Fatalf("get(%q, %q) = %q", k[0], k[1], typ)
		}
	}
}

// FuzzScannerValue: for any valid JSON value, value returns exactly that value, whether the
// input arrives at once or one byte at a time (values that end at a read's boundary).
func FuzzScannerValue(f *testing.F) {
	for _, in := range append(plainShapes, `"a\"b"`, `"a\\"`, `"\\\""`, `["x\\", "y"]`, `{"k": "v\\\\\"w"}`, `12.5`, `null`, `"é\u00e9"`) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		want := bytes.TrimSpace(in)
		for _, r := range []io.Reader{bytes.NewReader(append(append([]byte{}, in...), " ,1"...)), iotest.OneByteReader(bytes.NewReader(append(append([]byte{}, in...), ',')))} {
			raw, start, err := newScanner(r, "").value()
			if err != nil || !bytes.Equal(raw, want) || int(start) != bytes.Index(in, want) {
				t.Fatalf("value of %q = %q at %d (%v)", in, raw, start, err)
			}
		}
	})
}
