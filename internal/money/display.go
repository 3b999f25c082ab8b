package money

import "strings"

// Display is the amount for people: rounded half-even to two decimals (cents), digits grouped
// in thousands with commas: 1234567.895 -> "1,234,567.90", -0.004 -> "0.00". Reports keep the
// exact String form in CSV, JSON and Parquet; Display is for the dashboard and text reports.
func (n Nanos) Display() string {
	const unit = Scale / 100 // nanos per cent
	u := uint64(n)
	neg := n < 0
	if neg {
		u = uint64(-n) // also right for math.MinInt64
	}
	cents, rest := u/unit, u%unit
	if rest > unit/2 || rest == unit/2 && cents%2 == 1 {
		cents++
	}
	var b []byte
	if neg && cents != 0 {
		b = append(b, '-')
	}
	b = appendGrouped(b, cents/100)
	c := cents % 100
	return string(append(b, '.', byte('0'+c/10), byte('0'+c%10)))
}

// DisplayIn is Display with the currency's code in front: "USD 1,234.57".
func (n Nanos) DisplayIn(currency string) string {
	if currency == "" {
		return n.Display()
	}
	return currency + " " + n.Display()
}

// DisplayString is Display of an exact decimal string (as reports carry amounts); a string
// that is not an amount is returned unchanged.
func DisplayString(s string) string {
	n, err := Parse(s)
	if err != nil || strings.TrimSpace(s) == "" {
		return s
	}
	return n.Display()
}

func appendGrouped(b []byte, u uint64) []byte {
	d := appendUint(nil, u)
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}
