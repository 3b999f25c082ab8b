package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Tabler is a report that renders as tables.
type Tabler interface{ Tables() []Table }

// Formats accepted by Write.
var Formats = []string{"text", "csv", "json"}

// Write writes r in format: "text" (aligned tables), "csv" (every table with a header row, the
// first column naming the table, tables separated by an empty line) or "json" (the report
// object, amounts as decimal strings).
func Write(w io.Writer, format string, r Tabler) error {
	switch format {
	case "", "text":
		if h, ok := r.(Headed); ok {
			if _, err := fmt.Fprintf(w, "%s\n\n", h.Heading()); err != nil {
				return err
			}
		}
		return WriteText(w, r.Tables())
	case "csv":
		return WriteCSV(w, r.Tables())
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("unknown format %q; use one of %s", format, strings.Join(Formats, ", "))
}

// WriteText prints each table under its title, columns aligned, amounts for people.
func WriteText(w io.Writer, ts []Table) error {
	for i, t := range ts {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "%s\n", t.Title); err != nil {
			return err
		}
		if len(t.Rows) == 0 {
			if _, err := fmt.Fprintln(w, "  (none)"); err != nil {
				return err
			}
			continue
		}
		// Amounts rounded to cents and right-aligned (display.go); CSV and JSON stay exact.
		if _, err := fmt.Fprintf(w, "%s\n", strings.Join(textTable(t), "\n")); err != nil {
			return err
		}
	}
	return nil
}

// WriteCSV writes the tables as CSV (RFC 4180).
func WriteCSV(w io.Writer, ts []Table) error {
	cw := csv.NewWriter(w)
	for i, t := range ts {
		if i > 0 {
			if err := cw.Write(nil); err != nil {
				return err
			}
		}
		if err := cw.Write(append([]string{"table"}, t.Header...)); err != nil {
			return err
		}
		for _, r := range t.Rows {
			if err := cw.Write(append([]string{t.Name}, r...)); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
