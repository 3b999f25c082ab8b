package web

import (
	"net/url"
	"strings"

	"github.com/partnerlink/partnerlink/internal/report"
)

// How the dashboard shows a report table to people: amounts rounded to cents and
// right-aligned with the exact value on hover, a column of IDs followed by their names shown
// as one column of names with the ID beside it (and on hover), and long tables collapsed
// behind their row count.

// collapseAfter is the row count above which a table starts collapsed.
const collapseAfter = 12

type tableView struct {
	Name, Title string
	Count       int
	Collapsed   bool
	Header      []headView
	Rows        [][]cellView
}

type headView struct {
	Text  string
	Right bool
}

type cellView struct {
	Text, Exact, ID, Link string
	Right, Wrap           bool // Wrap: long prose that may break over lines
}

// nameColumn: the header of a column that names the ID in the column before it.
var nameColumn = map[string]bool{"name": true, "via name": true, "organisation name": true}

func newTableView(t report.Table, links map[string]string) tableView {
	v := tableView{Name: t.Name, Title: t.Title, Count: len(t.Rows), Collapsed: len(t.Rows) > collapseAfter}
	merged := map[int]bool{} // ID columns whose next column names them
	for i, h := range t.Header {
		if i+1 < len(t.Header) && nameColumn[t.Header[i+1]] && !nameColumn[h] {
			merged[i] = true
		}
	}
	for i, h := range t.Header {
		if i > 0 && merged[i-1] {
			continue
		}
		v.Header = append(v.Header, headView{Text: h, Right: report.RightAligned(h)})
	}
	for _, r := range t.Rows {
		var cells []cellView
		for i := 0; i < len(r); i++ {
			h := ""
			if i < len(t.Header) {
				h = t.Header[i]
			}
			c := cellView{Text: report.DisplayCell(t.Header, r, i), Right: report.RightAligned(h)}
			c.Wrap = len(c.Text) > 48 && strings.Contains(c.Text, " ")
			if report.MoneyColumn(h) && c.Text != r[i] {
				c.Exact = r[i]
			}
			if i == 0 {
				if p, ok := links[t.Name]; ok && r[i] != "" {
					c.Link = p + url.PathEscape(r[i])
				}
			}
			if merged[i] {
				if i+1 < len(r) && r[i+1] != "" {
					c.Text, c.ID = r[i+1], r[i]
				}
				i++ // the name column is shown in this one
			}
			cells = append(cells, c)
		}
		v.Rows = append(v.Rows, cells)
	}
	return v
}
