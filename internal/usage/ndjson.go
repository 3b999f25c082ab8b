package usage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/partnerlink/partnerlink/internal/store"
)

// ImportNDJSON imports newline-delimited JSON: one object per line whose keys are FOCUS (or
// Azure cost-details) column names and whose values are strings or numbers. The keys of the
// first object are the columns; a later object with another key is a bad row. Numbers keep
// their exact text, so no amount passes through a float.
func ImportNDJSON(ctx context.Context, db *store.DB, r io.Reader, name string, opts ImportOptions) (*Import, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(ndjsonToCSV(r, pw)) }()
	defer pr.Close()
	opts.fromNDJSON = true
	return ImportReader(ctx, db, pr, name, opts)
}

// ndjsonToCSV writes a CSV header from the first object's keys (sorted) and one CSV row per
// line. A line that is not a JSON object becomes a row with a marker the reader rejects, so
// it is reported with its line number like any other bad row.
func ndjsonToCSV(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	cw := csv.NewWriter(w)
	var cols []string
	index := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			if cols != nil {
				// Keep line numbers aligned: an empty CSV line is skipped by the reader too.
				cw.Write(make([]string, len(cols)))
			}
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var obj map[string]any
		err := dec.Decode(&obj)
		if cols == nil {
			if err != nil {
				return fmt.Errorf("line %d: the first line must be a JSON object of column names to values: %v", line, err)
			}
			for k := range obj {
				cols = append(cols, k)
			}
			sort.Strings(cols)
			for i, c := range cols {
				index[c] = i
			}
			if err := cw.Write(cols); err != nil {
				return err
			}
		}
		row := make([]string, len(cols))
		switch {
		case err != nil:
			row = []string{fmt.Sprintf("not a JSON object: %v", err)} // wrong column count: rejected
		default:
			for k, v := range obj {
				i, ok := index[k]
				if !ok {
					row = []string{fmt.Sprintf("field %q is not among the first line's fields", k)}
					break
				}
				switch x := v.(type) {
				case nil:
				case string:
					row[i] = x
				case json.Number:
					row[i] = x.String()
				case bool:
					row[i] = fmt.Sprint(x)
				default:
					row = []string{fmt.Sprintf("field %q is not a string or number", k)}
				}
				if len(row) != len(cols) {
					break
				}
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return cw.Error()
}
