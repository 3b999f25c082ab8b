package usage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// mapper turns one CSV row into a Record. It returns the offending column and a reason when
// the row is bad.
type mapper interface {
	// nums are a Parquet row's typed values (see typedMapper), nil for CSV.
	mapRow(fields []string, nums []int64, rec *Record) (column, reason string)
	// clone returns a mapper for another goroutine (mappers keep per-row buffers).
	clone() mapper
}

// typedMapper is a mapper that takes some columns' values as numbers when a Parquet file
// holds them typed: instants (Unix ns) and amounts (nano-units). Each is exactly what the
// mapper would read from the value's text, so the records (keys included) are the same.
type typedMapper interface {
	typedColumns() (instants, amounts []int)
	// useTyped gives each header column's place in a row's nums plus 1 (0: read its text).
	useTyped(slot []int)
}

// columns finds header columns by name, case-insensitively (Azure writes both PascalCase and
// camelCase headers).
type columns map[string]int

func indexHeader(header []string) columns {
	c := make(columns, len(header))
	for i, h := range header {
		k := strings.ToLower(h)
		if _, dup := c[k]; !dup {
			c[k] = i
		}
	}
	return c
}

// find returns the index of the first of names present, or -1.
func (c columns) find(names ...string) int {
	for _, n := range names {
		if i, ok := c[strings.ToLower(n)]; ok {
			return i
		}
	}
	return -1
}

func detect(header []string) string {
	c := indexHeader(header)
	if c.find("ChargePeriodStart") >= 0 {
		return FormatFOCUS
	}
	if c.find("Date", "UsageDate") >= 0 && c.find("ChargeType", "MeterCategory", "SubscriptionId") >= 0 {
		return FormatAzureCost
	}
	return ""
}

func missing(format string, names []string) error {
	return fmt.Errorf("header lacks the %s column(s) %s; check the export's schema or pass the right --format", format, strings.Join(names, ", "))
}

// keyer derives a record key: the ID column when the row has one, else a hash of the
// normalised row. The hash covers the mapped fields in normalised form and every other column
// by name (sorted), so the same charge in a re-export with reordered columns keeps its key,
// while two distinct charges that differ only in an unmapped column (a meter, a tag) do not
// collapse into one. One keyer serves one reader, so it reuses its buffers.
type keyer struct {
	idCol  int
	others []int // unmapped columns, by lower-cased name
	names  []string
	buf    []byte
	// Keys are carved from one arena per keyerArena keys instead of one allocation each; a
	// kept key keeps its arena alive, as a kept record keeps its chunk.
	arena []byte
	times *[timeCacheSize]timeText
}

// timeText is a charge time and its decimal text. A file holds few distinct charge times (an
// hourly export 24 a day), and formatting their 19 digits twice a row was about a quarter of a
// key's CPU outside SHA-256, so each keyer keeps the texts of recent ones, by hour.
type timeText struct {
	v int64
	n uint8
	b [20]byte
}

const timeCacheSize = 1024 // 42 days of hours

// appendTime appends v in decimal, as strconv.AppendInt does.
func (k *keyer) appendTime(b []byte, v int64) []byte {
	if k.times == nil {
		k.times = new([timeCacheSize]timeText)
	}
	t := &k.times[uint64(v)/uint64(time.Hour)%timeCacheSize]
	if t.n == 0 || t.v != v {
		t.v, t.n = v, uint8(len(strconv.AppendInt(t.b[:0], v, 10)))
	}
	return append(b, t.b[:t.n]...)
}

const keyerArena = 512 // keys per arena: a batch's worth

func newKeyer(header []string, idCol int, mapped map[int]bool) *keyer {
	k := &keyer{idCol: idCol}
	for i, h := range header {
		// x_Reject* columns are what a rejects file adds; a fixed rejects file re-imports with
		// the keys the rows would have had.
		if !mapped[i] && i != idCol && !strings.HasPrefix(strings.ToLower(h), "x_reject") {
			k.others = append(k.others, i)
		}
	}
	sort.SliceStable(k.others, func(a, b int) bool {
		return strings.ToLower(header[k.others[a]]) < strings.ToLower(header[k.others[b]])
	})
	for _, i := range k.others {
		k.names = append(k.names, strings.ToLower(header[i]))
	}
	return k
}

func (k *keyer) clone() *keyer {
	c := *k
	c.buf, c.arena, c.times = nil, nil, nil
	return &c
}

// keyFields are the texts of the mapped columns a record key hashes, as the first version of
// the importer normalised them (so that a file imported before keeps its keys): times, cost,
// subscription, categories and currency normalised, the other columns trimmed as written.
type keyFields struct {
	sub, service, serviceCat, category, pricing, commitment, provider, publisher, currency, resource string
}

// keyOf is keyFields as Record holds them (formats whose mapping never changed).
func keyOf(r *Record) keyFields {
	return keyFields{r.SubscriptionID, r.Service, r.ServiceCategory, r.ChargeCategory, r.PricingCategory,
		r.CommitmentDiscountID, r.Provider, r.Publisher, r.Currency, r.ResourceID}
}

func (k *keyer) key(fields []string, r *Record, kf keyFields) string {
	if k.idCol >= 0 {
		if id := strings.TrimSpace(fields[k.idCol]); id != "" && id != "NULL" {
			return id
		}
	}
	b := k.buf[:0]
	b = k.appendTime(b, r.Start)
	b = append(b, 0x1f)
	b = k.appendTime(b, r.End)
	for _, s := range [...]string{kf.sub, kf.service, kf.serviceCat, kf.category,
		kf.pricing, kf.commitment, kf.provider, kf.publisher, kf.currency} {
		b = append(b, 0x1f)
		b = append(b, s...)
	}
	b = append(b, 0x1f)
	b = appendResourceKey(b, kf.resource)
	b = append(b, 0x1f)
	b = r.Cost.Append(b)
	for j, i := range k.others {
		b = append(b, 0x1e)
		b = append(b, k.names[j]...)
		b = append(b, 0x1f)
		b = append(b, trimSpace(fields[i])...)
	}
	k.buf = b
	sum := sha256.Sum256(b)
	if len(k.arena) < 32 {
		k.arena = make([]byte, 32*keyerArena)
	}
	h := k.arena[:32:32]
	k.arena = k.arena[32:]
	hex.Encode(h, sum[:16])
	return unsafe.String(&h[0], 32)
}

// appendResourceKey appends ResourceKey(id) without allocating.
func appendResourceKey(b []byte, id string) []byte {
	id = strings.TrimSpace(id)
	for len(id) > 0 && id[len(id)-1] == '/' {
		id = id[:len(id)-1]
	}
	n := len(b)
	b = append(b, id...)
	scope.LowerASCII(b[n:])
	return b
}

// ResourceKey is the case-insensitive key of a resource ID: lower-case, no trailing slash.
func ResourceKey(id string) string {
	return string(appendResourceKey(make([]byte, 0, len(id)), id))
}

// NormalizeSubscription accepts a bare GUID or /subscriptions/<guid> and returns the lower-case
// GUID.
func NormalizeSubscription(s string) (string, bool) {
	s = trimSpace(s)
	if len(s) > len("/subscriptions/") && strings.EqualFold(s[:len("/subscriptions/")], "/subscriptions/") {
		s = strings.TrimRight(s[len("/subscriptions/"):], "/")
	}
	if !scope.IsGUID(s) {
		return strings.ToLower(s), false
	}
	for i := 0; i < len(s); i++ {
		if isUpper(s[i]) {
			return strings.ToLower(s), true
		}
	}
	return s, true // already lower case: no copy
}

func normCurrency(s string) (string, string) {
	s = trimSpace(s)
	if len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2]) {
		return s, "" // the usual spelling, without ToUpper's scan and copy
	}
	s = strings.ToUpper(s)
	if s == "" {
		return "", "currency is missing; every cost needs its currency (an ISO 4217 code such as USD)"
	}
	if len(s) != 3 || !isUpper(s[0]) || !isUpper(s[1]) || !isUpper(s[2]) {
		return "", fmt.Sprintf("currency %q is not a 3-letter ISO 4217 code such as USD", s)
	}
	return s, ""
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// trimSpace is strings.TrimSpace with a fast exit for the common field that has no space at
// either end (bytes of 0x80 and above may start a Unicode space, so they take the slow path).
func trimSpace(s string) string {
	if s == "" {
		return s
	}
	if a, z := s[0], s[len(s)-1]; a > ' ' && a < 0x80 && z > ' ' && z < 0x80 {
		return s
	}
	return strings.TrimSpace(s)
}

// lookupFold finds s in a map keyed by lower-case names: first as written (files mostly use
// one spelling, which callers list too), then lower-cased.
func lookupFold(m map[string]string, s string) (string, bool) {
	if v, ok := m[s]; ok {
		return v, true
	}
	v, ok := m[strings.ToLower(s)]
	return v, ok
}

func parseCost(s string) (money.Nanos, string) {
	s = trimSpace(s)
	if s == "" {
		return 0, "amount is empty; write 0 for a free row"
	}
	n, err := money.Parse(s)
	if err != nil {
		return 0, err.Error()
	}
	return n, ""
}

// timeLayouts are the timestamp spellings seen in exports; those without an offset are UTC
// (FOCUS times are). time.Parse also takes a fraction of a second after the seconds of a layout
// that has none.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04Z", "2006-01-02"}

// Instants must lie strictly between timeline.Min and timeline.Max, the sentinels of unbounded
// windows: what int64 nanoseconds hold, from 1677-09-21 to 2262-04-11.
var (
	minInstant = time.Unix(0, timeline.Min+1).UTC()
	maxInstant = time.Unix(0, timeline.Max-1).UTC()
)

// instantRange is the range named in errors.
var instantRange = fmt.Sprintf("partnerlink holds instants from %s to %s", minInstant.Format(time.RFC3339), maxInstant.Format(time.RFC3339))

// parseTime reads a timestamp as an instant, or says why it cannot.
func parseTime(s string) (int64, string) {
	s = trimSpace(s)
	if ns, ok := parseUTCSeconds(s); ok {
		return ns, ""
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return instantOf(s, t)
		}
	}
	return 0, fmt.Sprintf("%q is not a time; use RFC 3339 such as 2026-03-01T00:00:00Z (YYYY-MM-DD HH:MM:SS without an offset is read as UTC)", s)
}

// instantOf is t in Unix nanoseconds, or the reason it is out of range.
func instantOf(s string, t time.Time) (int64, string) {
	if t.Before(minInstant) || t.After(maxInstant) {
		return 0, fmt.Sprintf("%q is out of range: %s", s, instantRange)
	}
	return t.UnixNano(), ""
}

// parseUTCSeconds reads the spelling nearly every export uses, YYYY-MM-DDTHH:MM:SSZ, without
// time.Parse's generality. Anything else (other layouts, out-of-range fields such as month 13
// or February 30, instants out of range) returns false and is left to time.Parse, which gives
// the same answer or rejects it.
func parseUTCSeconds(s string) (int64, bool) {
	secs, ok := utcSeconds(s)
	if !ok || secs < minSeconds || secs > maxSeconds {
		return 0, false
	}
	return secs * 1e9, true
}

// The whole seconds parseUTCSeconds may return: their nanoseconds are in range.
var (
	minSeconds = minInstant.Unix() + 1
	maxSeconds = maxInstant.Unix()
)

// utcSeconds is the Unix seconds of YYYY-MM-DDTHH:MM:SSZ (days 29 to 31 excluded: they depend
// on the month, and time.Parse checks them).
func utcSeconds(s string) (int64, bool) {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return 0, false
	}
	bad := false
	dig := func(i int) int {
		c := s[i] - '0' // as a byte: anything that is not a digit is above 9
		bad = bad || c > 9
		return int(c)
	}
	two := func(i int) int { return dig(i)*10 + dig(i+1) }
	y := dig(0)*1000 + dig(1)*100 + two(2)
	mo, d, h, mi, sec := two(5), two(8), two(11), two(14), two(17)
	if bad || mo < 1 || mo > 12 || d < 1 || d > 28 || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	// What time.Date(...).Unix() gives, without its normalisation (that was half of this
	// function's time).
	return daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec), true
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the proleptic Gregorian
// calendar (Howard Hinnant's days_from_civil), for y >= 0 and a valid month and day.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400                  // [0, 399]
	doy := (153*((m+9)%12)+2)/5 + d - 1 // [0, 365], from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

var categories = map[string]string{
	"usage": CategoryUsage, "purchase": CategoryPurchase, "tax": CategoryTax,
	"credit": CategoryCredit, "adjustment": CategoryAdjustment,
	// The standard spellings, found without lower-casing (see lookupFold).
	CategoryUsage: CategoryUsage, CategoryPurchase: CategoryPurchase, CategoryTax: CategoryTax,
	CategoryCredit: CategoryCredit, CategoryAdjustment: CategoryAdjustment,
}

// pricingCategories maps FOCUS 1.0 and 1.1+ spellings onto the 1.1+ values.
var pricingCategories = map[string]string{
	"": "", "standard": "Standard", "on-demand": "Standard", "dynamic": "Dynamic",
	"committed": "Committed", "commitment-based": "Committed", "other": "Other",
	// The standard spellings, found without lower-casing (see lookupFold).
	"Standard": "Standard", "On-Demand": "Standard", "Dynamic": "Dynamic", "Committed": "Committed",
	"Commitment-Based": "Committed", "Other": "Other",
}

func field(fields []string, i int) string {
	if i < 0 {
		return ""
	}
	return trimSpace(fields[i])
}

// mapCost reads what every format maps alike: the cost (and its text, for audit) and the
// currency. It returns the offending column (named as the format names it) and the reason.
func mapCost(f []string, cost, currency int, costCol, currencyCol string, r *Record) (string, string) {
	var reason string
	if r.Cost, reason = parseCost(f[cost]); reason != "" {
		return costCol, reason
	}
	r.CostRaw = field(f, cost)
	if r.Currency, reason = normCurrency(f[currency]); reason != "" {
		return currencyCol, reason
	}
	return "", ""
}

// mapSubscription reads an Azure subscription, which only Usage rows must have (purchases and
// taxes may belong to the billing account). r.ChargeCategory must be set.
func mapSubscription(s string, r *Record) string {
	if s == "" && r.ChargeCategory != CategoryUsage {
		r.SubscriptionID = ""
		return ""
	}
	var ok bool
	if r.SubscriptionID, ok = NormalizeSubscription(s); !ok {
		if s == "" || s == "NULL" {
			return "is null; a Microsoft usage row needs its subscription (a GUID or /subscriptions/<GUID>)"
		}
		return fmt.Sprintf("%q is not a subscription; use its GUID or /subscriptions/<GUID> (only Microsoft sub-accounts must be subscriptions: is the row's provider column right?)", s)
	}
	return ""
}
