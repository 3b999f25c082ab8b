// Package timeline holds validity windows: half-open intervals [From, To) of instants in Unix
// nanoseconds (UTC), and sets of them. Every fact in partnerlink that can change carries one.
//
// Instants are int64 nanoseconds rather than time.Time so that windows are cheap to compare in
// the engine's hot loop and are stored as plain BIGINT columns in both SQL engines. Two
// sentinels mark unbounded ends: Min ("since always") and Max ("still valid").
package timeline

import (
	"fmt"
	"math"
	"sort"
	"time"
)

const (
	Min int64 = math.MinInt64 // unbounded start
	Max int64 = math.MaxInt64 // open end ("to": null)
)

// Window is the half-open interval [From, To).
type Window struct {
	From int64
	To   int64
}

// Always is the window with no bounds.
func Always() Window { return Window{Min, Max} }

// Since is [from, ∞).
func Since(from int64) Window { return Window{from, Max} }

// Of converts times; a zero time.Time is unbounded on its side.
func Of(from, to time.Time) Window {
	w := Always()
	if !from.IsZero() {
		w.From = Nanos(from)
	}
	if !to.IsZero() {
		w.To = Nanos(to)
	}
	return w
}

func (w Window) Contains(t int64) bool { return w.From <= t && t < w.To }
func (w Window) Empty() bool           { return w.From >= w.To }
func (w Window) IsOpen() bool          { return w.To == Max }
func (w Window) Overlaps(o Window) bool {
	return w.From < o.To && o.From < w.To && !w.Empty() && !o.Empty()
}

// Intersect returns the common part (possibly empty).
func (w Window) Intersect(o Window) Window {
	if o.From > w.From {
		w.From = o.From
	}
	if o.To < w.To {
		w.To = o.To
	}
	return w
}

// Length is To-From in nanoseconds, 0 when empty. Unbounded windows have no finite length:
// callers intersect with a bounded period first.
func (w Window) Length() int64 {
	if w.Empty() {
		return 0
	}
	return w.To - w.From
}

func (w Window) String() string {
	return fmt.Sprintf("[%s, %s)", FormatBound(w.From), FormatBound(w.To))
}

// Nanos converts a time to Unix nanoseconds.
func Nanos(t time.Time) int64 { return t.UnixNano() }

// Time converts Unix nanoseconds to a UTC time.
func Time(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// Format renders an instant as RFC 3339 UTC with as many fraction digits as it needs.
func Format(ns int64) string { return Time(ns).Format(time.RFC3339Nano) }

// FormatBound is Format, with "-∞" and "∞" for the sentinels.
func FormatBound(ns int64) string {
	switch ns {
	case Min:
		return "-∞"
	case Max:
		return "∞"
	}
	return Format(ns)
}

// FormatOrNil is Format for JSON bounds: the sentinels (open ends) become nil, i.e. null.
func FormatOrNil(ns int64) *string {
	if ns == Min || ns == Max {
		return nil
	}
	s := Format(ns)
	return &s
}

// The instants partnerlink stores. int64 nanoseconds since 1970 reach from 1677-09-21 to
// 2262-04-11; the accepted range is the whole years inside that, with 2262-01-01 itself
// allowed as an exclusive end ("to"). Outside it Nanos would silently wrap to another date.
var (
	Earliest = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	Latest   = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// RangeError is an instant outside [Earliest, Latest].
type RangeError struct {
	Value string // as given
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s is outside the dates partnerlink can store (%s to %s, the range of int64 nanoseconds)",
		e.Value, Earliest.Format(time.DateOnly), Latest.Format(time.DateOnly))
}

// FromTime converts a time to Unix nanoseconds, refusing one outside [Earliest, Latest]
// (a *RangeError naming the time).
func FromTime(t time.Time) (int64, error) {
	if t.Before(Earliest) || t.After(Latest) {
		return 0, &RangeError{Value: t.Format(time.RFC3339Nano)}
	}
	return t.UnixNano(), nil
}

// Parse reads an RFC 3339 time (any offset) as an instant in [Earliest, Latest].
func Parse(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an RFC 3339 time (want e.g. 2026-03-01T00:00:00Z)", s)
	}
	return fromParsed(s, t)
}

// ParseDateOrTime reads YYYY-MM-DD (UTC midnight) or RFC 3339, in [Earliest, Latest].
func ParseDateOrTime(s string) (int64, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return fromParsed(s, t)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 time", s)
	}
	return fromParsed(s, t)
}

func fromParsed(s string, t time.Time) (int64, error) {
	ns, err := FromTime(t)
	if err != nil {
		return 0, &RangeError{Value: s}
	}
	return ns, nil
}

// Set is a sorted list of disjoint, non-adjacent, non-empty windows: a union of time.
type Set []Window

// Union normalises any windows into a Set.
func Union(ws ...Window) Set {
	s := make(Set, 0, len(ws))
	for _, w := range ws {
		if !w.Empty() {
			s = append(s, w)
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i].From < s[j].From })
	out := s[:0]
	for _, w := range s {
		if n := len(out); n > 0 && w.From <= out[n-1].To {
			if w.To > out[n-1].To {
				out[n-1].To = w.To
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

// Add returns the union of s and w.
func (s Set) Add(w Window) Set { return Union(append(s, w)...) }

// Intersect returns the windows common to s and o.
func (s Set) Intersect(o Set) Set {
	var out Set
	i, j := 0, 0
	for i < len(s) && j < len(o) {
		if w := s[i].Intersect(o[j]); !w.Empty() {
			out = append(out, w)
		}
		if s[i].To < o[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

// Clip returns the parts of s inside w.
func (s Set) Clip(w Window) Set { return s.Intersect(Set{w}) }

// Length is the total time in s; s must be bounded.
func (s Set) Length() int64 {
	var n int64
	for _, w := range s {
		n += w.Length()
	}
	return n
}

// Contains reports whether t lies in s.
func (s Set) Contains(t int64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].To > t })
	return i < len(s) && s[i].From <= t
}
