package estatefile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadAzure: any input is read or refused with an error, never a panic; what is read
// is a list of JSON objects, each with a path into the document.
func FuzzReadAzure(f *testing.F) {
	files, _ := filepath.Glob("testdata/azure/*.json")
	official, _ := filepath.Glob("testdata/azure/official/*.json")
	for _, name := range append(files, official...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`null`, `[]`, `[[]]`, `[{"value": null}]`, `{"value": [1]}`, `[{"value": []}, {}]`, `{"properties": 1}`, `{} {}`, `[{"value": [], "nextLink": "x"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := readAzure(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json") && !strings.HasPrefix(err.Error(), "reading ") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if d.shape == "" {
			t.Fatal("no shape")
		}
		for _, e := range d.entries {
			if !strings.HasPrefix(e.path, "$") || len(e.raw) == 0 || e.raw[0] != '{' || e.props != nil && e.props[0] != '{' {
				t.Fatalf("entry %q: %s", e.path, e.raw)
			}
		}
	})
}
