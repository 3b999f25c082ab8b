// Package report builds the partner, customer and operator reports from the tables the
// attribution runs store (through internal/attribution/results: rollups, runs) and from the estate
// (links, link_history, subscriptions, principals, role assignments, imports).
//
// Money is int64 nanos and leaves this package only as exact decimal strings
// (money.Nanos.String), one amount per currency: currencies are never added together and no
// float is involved anywhere.
//
// Every report also renders as a list of Tables, which the text, CSV writers and the dashboard
// share, so the three views cannot disagree.
package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Associations in report order.
var Associations = []string{"PAL", "CSP", "DPOR", "CUA"}

// Table is one rectangular section of a report: what the text, CSV and HTML views print.
type Table struct {
	Name   string     `json:"name"`
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// Amount is one exact amount in one currency.
type Amount struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

// month returns the "YYYY-MM" of a Unix-ns instant (UTC).
func month(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01") }

// day returns the "YYYY-MM-DD" of a Unix-ns instant (UTC).
func day(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02") }

// when formats an instant for a report; sentinels print as empty.
func when(ns int64) string {
	if ns == 0 || ns == timeline.Min || ns == timeline.Max {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

// bound returns the window's SQL bounds; open ends are the sentinels, which compare correctly.
func bound(w timeline.Window) (int64, int64) {
	if w.From == 0 && w.To == 0 {
		return timeline.Min, timeline.Max
	}
	return w.From, w.To
}

// key2 is a (dimension, currency) grouping key.
type key2 struct{ k, cur string }

// sums accumulates nanos per key in insertion-independent order.
type sums map[key2]int64

func (s sums) add(k, cur string, n int64) { s[key2{k, cur}] += n }

// sorted returns the keys ordered by amount descending, then key, then currency, so equal
// reports print identically.
func (s sums) sorted() []key2 {
	ks := make([]key2, 0, len(s))
	for k := range s {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := s[ks[i]], s[ks[j]]
		if a != b {
			return a > b
		}
		if ks[i].k != ks[j].k {
			return ks[i].k < ks[j].k
		}
		return ks[i].cur < ks[j].cur
	})
	return ks
}

func nanos(n int64) string { return money.Nanos(n).String() }

// queryErr wraps a storage error with the report and step that failed.
func queryErr(db *store.DB, what string, err error) error {
	return fmt.Errorf("report: %s: %w", what, db.Translate(err))
}
