package web

import (
	"math/big"

	"github.com/partnerlink/partnerlink/internal/audit"
	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/report"
)

// Bar charts drawn in HTML and CSS (no script): each bar is a row with its label, its value in
// words and a bar whose width is the value's share of the chart's largest. Screen readers read
// the rows; nothing is only in the picture.

type barChart struct {
	Title, Currency string
	Bars            []bar
}

type bar struct {
	Label, ID, Value, Exact string
	Width                   string // CSS width, "37.5%"
}

// topCustomers is one chart per currency of the partner's largest customers (up to n).
func topCustomers(p *report.Partner, n int) []barChart {
	var out []barChart
	for _, t := range p.Totals {
		c := barChart{Title: "Top customers in " + t.Currency, Currency: t.Currency}
		var max money.Nanos
		var rows []report.GroupRow
		for _, g := range p.Customers { // sorted by amount, largest first
			if g.Currency == t.Currency && len(rows) < n {
				rows = append(rows, g)
				if a, err := money.Parse(g.Amount); err == nil && a > max {
					max = a
				}
			}
		}
		for _, g := range rows {
			a, _ := money.Parse(g.Amount)
			label := g.Name
			if label == "" {
				label = g.Key
			}
			c.Bars = append(c.Bars, bar{Label: label, ID: g.Key, Value: a.DisplayIn(t.Currency), Exact: g.Amount, Width: share(int64(a), int64(max))})
		}
		if len(c.Bars) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// groupBars is one bar chart per currency of a report's group rows (in the rows' order, which
// is by amount), titled title + " in " + the currency.
func groupBars(title string, rows []report.GroupRow) []barChart {
	var out []barChart
	idx := map[string]int{}
	max := map[string]money.Nanos{}
	for _, g := range rows {
		a, err := money.Parse(g.Amount)
		if err != nil {
			continue
		}
		i, ok := idx[g.Currency]
		if !ok {
			i = len(out)
			idx[g.Currency] = i
			out = append(out, barChart{Title: title + " in " + g.Currency, Currency: g.Currency})
		}
		if a > max[g.Currency] {
			max[g.Currency] = a
		}
		label := g.Name
		if label == "" {
			label = g.Key
		}
		out[i].Bars = append(out[i].Bars, bar{Label: label, ID: g.Key, Value: a.DisplayIn(g.Currency), Exact: g.Amount})
	}
	for i := range out {
		for j := range out[i].Bars {
			a, _ := money.Parse(out[i].Bars[j].Exact)
			out[i].Bars[j].Width = share(int64(a), int64(max[out[i].Currency]))
		}
	}
	return out
}

// share is num/den as a CSS percentage with one decimal, 0% when den is not positive.
func share(num, den int64) string {
	if den <= 0 || num <= 0 {
		return "0%"
	}
	r := new(big.Rat).SetFrac(hundredTimes(num), big.NewInt(den))
	return r.FloatString(1) + "%"
}

// coverageRow is a currency's coverage in a month and the month before: the share of the
// consumption of the partner's customers that it is credited (PAL, or CSP on the
// subscriptions it resells).
type coverageRow struct {
	Currency                        string
	Now, Before                     string // "62.5%"
	NowText, BeforeText, ChangeText string
	Consumption                     string // the month's consumption, for people
}

func coverageRows(now, before *audit.Report) []coverageRow {
	type acc struct{ cons, cred money.Nanos }
	sum := func(r *audit.Report) map[string]*acc {
		m := map[string]*acc{}
		if r == nil {
			return m
		}
		for _, t := range r.Totals {
			a := m[t.Currency]
			if a == nil {
				a = &acc{}
				m[t.Currency] = a
			}
			n, err := money.Parse(t.Amount)
			if err != nil {
				continue
			}
			switch t.Total {
			case "consumption":
				a.cons += n
			case "pal_credited", "csp_precedence":
				a.cred += n
			}
		}
		return m
	}
	a, b := sum(now), sum(before)
	var out []coverageRow
	for _, t := range now.Totals {
		if t.Total != "consumption" {
			continue
		}
		x := a[t.Currency]
		row := coverageRow{Currency: t.Currency, Now: share(int64(x.cred), int64(x.cons)), Consumption: x.cons.DisplayIn(t.Currency)}
		row.NowText = row.Now
		if y, ok := b[t.Currency]; ok && y.cons > 0 {
			row.Before = share(int64(y.cred), int64(y.cons))
			row.BeforeText = row.Before
			row.ChangeText = points(int64(x.cred), int64(x.cons), int64(y.cred), int64(y.cons))
		} else {
			row.Before, row.BeforeText, row.ChangeText = "0%", "no consumption", "new"
		}
		out = append(out, row)
	}
	return out
}

// points is the change from c/d to a/b in percentage points, one decimal, signed.
func points(a, b, c, d int64) string {
	x := new(big.Rat).SetFrac(hundredTimes(a), big.NewInt(b))
	y := new(big.Rat).SetFrac(hundredTimes(c), big.NewInt(d))
	diff := new(big.Rat).Sub(x, y)
	s := diff.FloatString(1)
	if diff.Sign() >= 0 {
		s = "+" + s
	}
	return s + " points"
}

func hundredTimes(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(100)) }
