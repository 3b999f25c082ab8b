package web

import (
	"html/template"
	"net/url"
	"time"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/report"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

var funcs = template.FuncMap{
	"money": money.DisplayString,
	"tbl":   func(t report.Table, links map[string]string) tableView { return newTableView(t, links) },
	// link returns the drill-down URL of a table's first cell, or "" when the table has none.
	"link": func(links map[string]string, table, cell string) string {
		p, ok := links[table]
		if !ok || cell == "" {
			return ""
		}
		return p + url.PathEscape(cell)
	},
}

func fmtTime(ns int64) string {
	if ns == 0 || ns == timeline.Min || ns == timeline.Max {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}
