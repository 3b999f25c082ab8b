package report

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/partnerlink/partnerlink/internal/money"
)

// How tables read for people (text reports and the dashboard): amounts rounded half-even to
// cents with grouped digits and right-aligned, counts right-aligned. CSV and JSON keep the
// exact decimals; the dashboard shows the exact value on hover.

// moneyColumns are the headers of columns holding amounts.
var moneyColumns = map[string]bool{"amount": true, "previous": true, "change": true, "cost": true}

// countColumns are the headers of columns holding counts or percentages.
var countColumns = map[string]bool{"read": true, "added": true, "duplicate": true, "rejected": true, "attributions": true,
	"incentives": true, "records": true, "percent": true, "rows": true}

// MoneyColumn reports whether a column of that header holds amounts.
func MoneyColumn(header string) bool { return moneyColumns[header] }

// RightAligned reports whether a column of that header holds numbers.
func RightAligned(header string) bool { return moneyColumns[header] || countColumns[header] }

// DisplayCell is cell i of a row as people read it: an amount rounded to cents with grouped
// digits, anything else unchanged.
func DisplayCell(header []string, row []string, i int) string {
	if i < len(header) && i < len(row) && moneyColumns[header[i]] && row[i] != "" {
		return money.DisplayString(row[i])
	}
	if i < len(header) && i < len(row) && countColumns[header[i]] {
		if n, err := strconv.ParseInt(row[i], 10, 64); err == nil && (n >= 10000 || n <= -10000) {
			return groupDigits(n)
		}
	}
	if i < len(row) {
		return row[i]
	}
	return ""
}

// Headed is a report with a heading line: who it is about and for what period.
type Headed interface{ Heading() string }

// Heading names the partner, what it is and the period of the report.
func (p *Partner) Heading() string {
	name := p.Name
	if name == "" {
		name = "(no name)"
	}
	return "Partner " + p.PartnerID + " – " + name + " (" + p.Kind + "), " + periodText(p.From, p.To)
}

// Heading names the customer tenant.
func (c *Customer) Heading() string {
	if c.TenantName != "" {
		return "Customer tenant " + c.TenantName + " (" + c.TenantID + ")"
	}
	return "Customer tenant " + c.TenantID
}

// periodText is "2026-03-01 to 2026-04-01 (exclusive)", "all time", or an open end.
func periodText(from, to string) string {
	d := func(s string) string { return strings.TrimSuffix(s, "T00:00:00Z") }
	switch {
	case from == "" && to == "":
		return "all time"
	case from == "":
		return "until " + d(to) + " (exclusive)"
	case to == "":
		return "from " + d(from)
	}
	return d(from) + " to " + d(to) + " (exclusive)"
}

// textTable lays a table out in columns for a terminal: two spaces between columns, numbers
// right-aligned, amounts for people.
func textTable(t Table) []string {
	cells := make([][]string, 0, len(t.Rows)+1)
	cells = append(cells, t.Header)
	for _, r := range t.Rows {
		out := make([]string, len(r))
		for i := range r {
			out[i] = DisplayCell(t.Header, r, i)
		}
		cells = append(cells, out)
	}
	width := map[int]int{}
	for _, r := range cells {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	lines := make([]string, 0, len(cells))
	for _, r := range cells {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			last := i == len(r)-1
			switch {
			case i < len(t.Header) && RightAligned(t.Header[i]):
				b.WriteString(pad + c)
			case last:
				b.WriteString(c)
			default:
				b.WriteString(c + pad)
			}
			if !last {
				b.WriteString("  ")
			}
		}
		lines = append(lines, strings.TrimRight(b.String(), " "))
	}
	return lines
}

// groupDigits writes a count with thousands separators: 80934 -> "80,934".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
