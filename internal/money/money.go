// Package money holds exact currency amounts: int64 nano-units (1e-9 of a currency unit),
// parsed from and formatted to decimal strings without floats, and scaled by ratios with a
// single half-even rounding.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// Nanos is an amount in nano-units of its currency: 1 unit = 1e9 Nanos.
type Nanos int64

// Scale is the number of nano-units in one currency unit.
const Scale = 1_000_000_000

// ErrSyntax is wrapped by every Parse error.
var ErrSyntax = errors.New("not a decimal number")

// Parse reads a decimal string exactly: optional sign, digits, optional fraction, optional
// exponent (Azure exports write small costs as "3.5E-06"). Digits beyond the ninth fraction
// digit are rounded half-even, once. Thousands separators, currency symbols and spaces are
// rejected rather than guessed at.
func Parse(s string) (Nanos, error) {
	if n, ok := parsePlain(s); ok {
		return n, nil
	}
	return parse(s)
}

// parsePlain parses the usual spelling of an amount in one pass, without allocating: an
// optional sign, digits, and at most nine fraction digits, whose value in nano-units has at
// most 18 digits (so no rounding and no overflow). It reports false for everything else,
// which parse handles, errors included. A usage import parses an amount on every row, and
// the general path's string concatenation was most of its cost.
func parsePlain(s string) (Nanos, bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		i, neg = 1, s[0] == '-'
	}
	var v uint64
	sig := 0 // digits from the first non-zero one on
	from := i
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		v = v*10 + uint64(s[i]-'0')
		if v != 0 {
			sig++
		}
	}
	digits, frac := i-from, 0
	if i < len(s) && s[i] == '.' {
		i++
		from = i
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			v = v*10 + uint64(s[i]-'0')
			if v != 0 {
				sig++
			}
		}
		frac = i - from
	}
	// sig > 18 may have overflowed v; it is not used then.
	if i != len(s) || digits+frac == 0 || frac > 9 || sig+9-frac > 18 {
		return 0, false
	}
	for ; frac < 9; frac++ {
		v *= 10
	}
	if neg {
		return Nanos(-int64(v)), true
	}
	return Nanos(v), true
}

// parse is Parse's general path.
func parse(s string) (Nanos, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty value", ErrSyntax)
	}
	str := s
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, ok := parseExp(s[i+1:])
		if !ok {
			return 0, fmt.Errorf("%w: %q has a bad exponent", ErrSyntax, str)
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("%w: %q has no digits", ErrSyntax, str)
	}
	digits := intPart + frac
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			r, _ := utf8.DecodeRuneInString(digits[i:])
			return 0, fmt.Errorf("%w: %q contains %q (U+%04X); write digits with one '.' and no thousands separators", ErrSyntax, str, r, r)
		}
	}
	// value = digits * 10^(exp - len(frac)); we want value * 1e9.
	shift := exp - len(frac) + 9
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, nil
	}
	// Fast path: fits easily in uint64 arithmetic.
	if shift >= 0 && len(digits)+shift <= 18 {
		var v uint64
		for i := 0; i < len(digits); i++ {
			v = v*10 + uint64(digits[i]-'0')
		}
		for ; shift > 0; shift-- {
			v *= 10
		}
		if neg {
			return Nanos(-int64(v)), nil
		}
		return Nanos(v), nil
	}
	// The value in nano-units has len(digits)+shift integer digits: more than 19 cannot fit in
	// an int64, and fewer than 0 is below half a nano-unit, which rounds to zero.
	if mag := len(digits) + shift; mag > 19 {
		return 0, fmt.Errorf("%w: %q is out of range (at most 9223372036.854775807)", ErrSyntax, str)
	} else if mag < 0 {
		return 0, nil
	}
	n, _ := new(big.Int).SetString(digits, 10)
	var q *big.Int
	if shift >= 0 {
		q = n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil))
	} else {
		q = roundHalfEvenBig(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-shift)), nil))
	}
	if neg {
		q.Neg(q)
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: %q is out of range (at most 9223372036.854775807)", ErrSyntax, str)
	}
	return Nanos(q.Int64()), nil
}

func parseExp(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 4 {
		return 0, false
	}
	e := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		e = e*10 + int(s[i]-'0')
	}
	if neg {
		e = -e
	}
	return e, true
}

// roundHalfEvenBig returns n/d rounded half-even, for n >= 0, d > 0.
func roundHalfEvenBig(n, d *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	twice := r.Lsh(r, 1)
	switch twice.Cmp(d) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// String formats the amount exactly, with no trailing fraction zeros: 12.5, -0.000000001, 3.
func (n Nanos) String() string {
	var b [32]byte
	return string(n.Append(b[:0]))
}

// Append appends String's text to dst (for writers that avoid allocation).
func (n Nanos) Append(dst []byte) []byte {
	u := uint64(n)
	if n < 0 {
		dst = append(dst, '-')
		u = uint64(-n) // also right for math.MinInt64
	}
	ip, fp := u/Scale, u%Scale
	dst = appendUint(dst, ip)
	if fp == 0 {
		return dst
	}
	var f [9]byte
	for i := 8; i >= 0; i-- {
		f[i] = byte('0' + fp%10)
		fp /= 10
	}
	end := 9
	for end > 0 && f[end-1] == '0' {
		end--
	}
	dst = append(dst, '.')
	return append(dst, f[:end]...)
}

// IsText reports whether s is n's text, as Append writes it, without writing it: an import
// asks this of every row's cost (only a text that differs is stored beside the amount).
func (n Nanos) IsText(s string) bool {
	t := s
	neg := len(t) > 0 && t[0] == '-'
	if neg {
		t = t[1:]
	}
	ip, fp := t, ""
	if dot := strings.IndexByte(t, '.'); dot >= 0 {
		ip, fp = t[:dot], t[dot+1:]
		if fp == "" || fp[len(fp)-1] == '0' {
			return false // Append writes no point without digits and no trailing zero
		}
	}
	if ip == "" || len(ip) > 9 || len(fp) > 9 || (ip[0] == '0' && len(ip) > 1) {
		// Not Append's form, or beyond the fast path's range: compare the text itself.
		var buf [32]byte
		return string(n.Append(buf[:0])) == s
	}
	var v int64
	for i := 0; i < len(ip); i++ {
		if ip[i] < '0' || ip[i] > '9' {
			return false
		}
		v = v*10 + int64(ip[i]-'0')
	}
	var f int64
	for i := 0; i < len(fp); i++ {
		if fp[i] < '0' || fp[i] > '9' {
			return false
		}
		f = f*10 + int64(fp[i]-'0')
	}
	for range 9 - len(fp) {
		f *= 10
	}
	v = v*Scale + f
	if neg {
		return v != 0 && Nanos(-v) == n // Append writes 0 without a sign
	}
	return Nanos(v) == n
}

func appendUint(dst []byte, u uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// FixedString formats with exactly nine fraction digits (used for coverage ratios).
func FixedString(n int64) string {
	s := Nanos(n).String()
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return s + ".000000000"
	}
	return s + strings.Repeat("0", 9-(len(s)-i-1))
}

// MulDiv returns round_half_even(n * num / den) with one rounding of the exact product.
// den must be positive and num non-negative.
func MulDiv(n Nanos, num, den int64) Nanos {
	if den <= 0 || num < 0 {
		panic(fmt.Sprintf("money.MulDiv: num %d, den %d", num, den))
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	hi, lo := bits.Mul64(u, uint64(num))
	if hi >= uint64(den) {
		return mulDivBig(n, big.NewInt(num), big.NewInt(den))
	}
	q, r := bits.Div64(hi, lo, uint64(den))
	// Round half-even: compare 2r with den without overflow.
	if r > uint64(den)-r || (r == uint64(den)-r && q&1 == 1) {
		q++
	}
	if q > math.MaxInt64 {
		return mulDivBig(n, big.NewInt(num), big.NewInt(den))
	}
	if neg {
		return -Nanos(q)
	}
	return Nanos(q)
}

// MulDiv2 returns round_half_even(n * a * b / (c * d)): one rounding for a product of two
// ratios, such as cost × rate × share-of-period.
func MulDiv2(n Nanos, a, c, b, d int64) Nanos {
	if c <= 0 || d <= 0 || a < 0 || b < 0 {
		panic(fmt.Sprintf("money.MulDiv2: %d/%d × %d/%d", a, c, b, d))
	}
	num := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	den := new(big.Int).Mul(big.NewInt(c), big.NewInt(d))
	if num.IsInt64() && den.IsInt64() {
		return MulDiv(n, num.Int64(), den.Int64())
	}
	return mulDivBig(n, num, den)
}

func mulDivBig(n Nanos, num, den *big.Int) Nanos {
	x := new(big.Int).Mul(big.NewInt(int64(n)), num)
	neg := x.Sign() < 0
	x.Abs(x)
	q := roundHalfEvenBig(x, den)
	if neg {
		q.Neg(q)
	}
	if !q.IsInt64() {
		panic(fmt.Sprintf("money: %d × %s / %s overflows int64 nano-units", n, num, den))
	}
	return Nanos(q.Int64())
}

// Ratio returns round_half_even(1e9 * num / den): a ratio in [0,1] as nine fraction digits.
func Ratio(num, den int64) int64 {
	return int64(MulDiv(Scale, num, den))
}
