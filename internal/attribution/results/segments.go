package results

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/partnerlink/partnerlink/internal/money"
	"github.com/partnerlink/partnerlink/internal/usage"
	"github.com/partnerlink/partnerlink/internal/varint"
)

// Result segments hold attribution and incentive rows with the records they belong to, so
// that they read back without the usage. Runs no longer write them (a run's rows are
// reproduced from its recorded inputs, see reproduce.go); they remain for runs stored before
// that, and the rows that a later run's period leaves of them are written again as version 2.
// docs/formats.md ("Result segments") is the byte-level specification; the versions are the
// result format's own, independent of the usage segment format's.
const (
	resultMagicV1 = "PLR\x01" // records embedded as a usage segment of version 1; no checksum
	resultMagicV2 = "PLR\x02" // records in the result format itself; CRC32C
)

var errResultCorrupt = errors.New("attribution result segment is corrupt")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// resultRecord is what a result segment keeps of a usage record.
type resultRecord struct {
	key                         string
	start, end                  int64
	resource, service, currency string
	cost                        money.Nanos
	tenant, subscription        string
	rows                        []Row
	incs                        []Incentive
}

// encodeResults writes records (in order) and their rows as a version 2 result segment.
func encodeResults(recs []*resultRecord) []byte {
	var dict []string
	idx := map[string]uint64{}
	str := func(s string) uint64 {
		if i, ok := idx[s]; ok {
			return i
		}
		i := uint64(len(dict))
		dict = append(dict, s)
		idx[s] = i
		return i
	}
	var body, rows, incs []byte
	nRows, nIncs := 0, 0
	lastRow, lastInc := 0, 0
	prevStart := int64(0)
	for k, r := range recs {
		body = appendString(body, r.key)
		body = binary.AppendVarint(body, r.start-prevStart)
		prevStart = r.start
		body = binary.AppendUvarint(body, uint64(r.end-r.start))
		body = binary.AppendVarint(body, int64(r.cost))
		for _, s := range [...]string{r.resource, r.service, r.currency, r.tenant, r.subscription} {
			body = binary.AppendUvarint(body, str(s))
		}
		for i := range r.rows {
			x := &r.rows[i]
			rows = binary.AppendUvarint(rows, uint64(k-lastRow))
			lastRow = k
			for _, s := range [...]string{x.LocationID, x.OrgID, x.Association, x.AdminRole} {
				rows = binary.AppendUvarint(rows, str(s))
			}
			rows = binary.AppendUvarint(rows, uint64(money.Scale-x.Coverage))
			rows = binary.AppendVarint(rows, int64(r.cost-x.Amount))
			if x.DuplicateAtOrg {
				rows = append(rows, 1)
			} else {
				rows = append(rows, 0)
			}
			nRows++
		}
		for i := range r.incs {
			x := &r.incs[i]
			incs = binary.AppendUvarint(incs, uint64(k-lastInc))
			lastInc = k
			for _, s := range [...]string{x.LocationID, x.OrgID, x.Program, x.ProgramVersion} {
				incs = binary.AppendUvarint(incs, str(s))
			}
			incs = binary.AppendVarint(incs, int64(x.Amount))
			nIncs++
		}
	}
	out := []byte(resultMagicV2)
	out = binary.AppendUvarint(out, uint64(len(recs)))
	out = binary.AppendUvarint(out, uint64(len(dict)))
	for _, s := range dict {
		out = appendString(out, s)
	}
	out = append(out, body...)
	out = binary.AppendUvarint(out, uint64(nRows))
	out = append(out, rows...)
	out = binary.AppendUvarint(out, uint64(nIncs))
	out = append(out, incs...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeSegment decodes the stored result segment id, naming it in any error: a damaged
// segment is reported, never decoded into rows.
func decodeSegment(id string, data []byte, row func(*Row) error, inc func(*Incentive) error) error {
	if err := decodeResults(data, row, inc); err != nil {
		if errors.Is(err, errResultCorrupt) {
			return fmt.Errorf("attribution result segment %s: %w (restore the database from a backup, or run `partnerlink attribute` for its period again)", id, err)
		}
		return err
	}
	return nil
}

// decodeResults calls row and inc for every row of a result segment of any supported version,
// in the order stored. The rows are valid only during the calls.
func decodeResults(data []byte, row func(*Row) error, inc func(*Incentive) error) error {
	switch {
	case bytes.HasPrefix(data, []byte(resultMagicV2)):
		return decodeV2(data, row, inc)
	case bytes.HasPrefix(data, []byte(resultMagicV1)):
		return decodeV1(data, row, inc)
	case len(data) >= 4 && bytes.HasPrefix(data, []byte("PLR")):
		return fmt.Errorf("%w: format version %d is newer than this partnerlink reads: upgrade partnerlink", errResultCorrupt, data[3])
	}
	return fmt.Errorf("%w: not a result segment (no PLR magic)", errResultCorrupt)
}

// legacyProvider is the provider of every row a result segment holds: segments hold the rows
// of runs stored before runs were reproduced (schema 0620), when only microsoft's records were
// attributed.
const legacyProvider = "microsoft"

// record is a decoded record of a result segment.
type record struct {
	key                                      string
	start, end                               int64
	cost                                     money.Nanos
	resource, service, currency, tenant, sub string
	provider                                 string
}

// decodeRows reads the rows and incentives sections, which versions 1 and 2 share, against
// the segment's records and dictionary.
func decodeRows(r *varint.Reader, recs []record, dict []string, row func(*Row) error, inc func(*Incentive) error) error {
	n := uint64(len(recs))
	ds := uint64(len(dict))
	str := func(what string) string {
		i := uint64(r.Count(what, ds))
		if r.Err != nil || i >= ds {
			r.Fail(what + " index out of range")
			return ""
		}
		return dict[i]
	}
	rows := r.Count("row count", uint64(r.Len()))
	rec := uint64(0)
	var x Row
	for k := 0; k < rows && r.Err == nil; k++ {
		rec += uint64(r.Count("row record", n))
		if rec >= n {
			r.Fail("row record out of range")
			break
		}
		c := &recs[rec]
		x = Row{RecordKey: c.key, Start: c.start, End: c.end, TenantID: c.tenant, SubscriptionID: c.sub,
			ResourceID: c.resource, Service: c.service, Currency: c.currency, Cost: c.cost, Provider: c.provider}
		x.LocationID, x.OrgID, x.Association, x.AdminRole = str("location"), str("organisation"), str("association"), str("admin role")
		x.Coverage = money.Scale - int64(r.Count("coverage", uint64(money.Scale)))
		x.Amount = c.cost - money.Nanos(r.Varint("amount"))
		dup := r.Byte("duplicate_at_org")
		if r.Err != nil {
			break
		}
		if dup > 1 {
			r.Fail("duplicate_at_org is neither 0 nor 1")
			break
		}
		x.DuplicateAtOrg = dup == 1
		if row != nil {
			if err := row(&x); err != nil {
				return err
			}
		}
	}
	incs := r.Count("incentive count", uint64(r.Len()))
	rec = 0
	var y Incentive
	for k := 0; k < incs && r.Err == nil; k++ {
		rec += uint64(r.Count("incentive record", n))
		if rec >= n {
			r.Fail("incentive record out of range")
			break
		}
		c := &recs[rec]
		y = Incentive{RecordKey: c.key, Start: c.start, Currency: c.currency}
		y.LocationID, y.OrgID, y.Program, y.ProgramVersion = str("location"), str("organisation"), str("program"), str("program version")
		y.Amount = money.Nanos(r.Varint("incentive amount"))
		if r.Err != nil {
			break
		}
		if inc != nil {
			if err := inc(&y); err != nil {
				return err
			}
		}
	}
	if r.Err == nil && r.Len() != 0 {
		r.Fail(fmt.Sprintf("%d bytes after the last row", r.Len()))
	}
	return r.Err
}

func readDict(r *varint.Reader) []string {
	nd := r.Count("dictionary size", uint64(r.Len()))
	dict := make([]string, 0, nd)
	for k := 0; k < nd && r.Err == nil; k++ {
		dict = append(dict, string(r.Bytes(r.Count("string length", uint64(r.Len())), "string")))
	}
	return dict
}

func decodeV2(data []byte, row func(*Row) error, inc func(*Incentive) error) error {
	if len(data) < len(resultMagicV2)+4 {
		return fmt.Errorf("%w: %d bytes are too few for a version 2 segment", errResultCorrupt, len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return fmt.Errorf("%w: its CRC32C is %08x, not the %08x it carries: the segment's bytes are damaged", errResultCorrupt, got, sum)
	}
	r := varint.NewReader(body[len(resultMagicV2):], errResultCorrupt)
	n := r.Count("record count", uint64(r.Len()))
	dict := readDict(r)
	ds := uint64(len(dict))
	idx := func(what string) string {
		i := uint64(r.Count(what, ds))
		if r.Err != nil || i >= ds {
			r.Fail(what + " index out of range")
			return ""
		}
		return dict[i]
	}
	recs := make([]record, 0, n)
	start := int64(0)
	for k := 0; k < n && r.Err == nil; k++ {
		var c record
		c.key = string(r.Bytes(r.Count("key length", uint64(r.Len())), "key"))
		start += r.Varint("start")
		c.start = start
		length := r.Uvarint("length")
		if r.Err == nil && length > 1<<62 {
			r.Fail("record length out of range")
		}
		c.end = start + int64(length)
		c.cost = money.Nanos(r.Varint("cost"))
		c.resource, c.service, c.currency, c.tenant, c.sub = idx("resource"), idx("service"), idx("currency"), idx("tenant"), idx("subscription")
		c.provider = legacyProvider
		recs = append(recs, c)
	}
	if r.Err != nil {
		return r.Err
	}
	return decodeRows(r, recs, dict, row, inc)
}

func decodeV1(data []byte, row func(*Row) error, inc func(*Incentive) error) error {
	r := varint.NewReader(data[len(resultMagicV1):], errResultCorrupt)
	recData := r.Bytes(r.Count("records length", uint64(r.Len())), "records")
	if r.Err != nil {
		return r.Err
	}
	b, err := usage.DecodeRows(recData)
	if err != nil {
		return fmt.Errorf("%w: %v", errResultCorrupt, err)
	}
	dict := readDict(r)
	n := b.Len()
	ds := uint64(len(dict))
	recs := make([]record, n)
	for k := 0; k < n && r.Err == nil; k++ {
		t := uint64(r.Count("tenant", ds))
		s := uint64(r.Count("subscription", ds))
		if r.Err == nil && (t >= ds || s >= ds) {
			r.Fail("dictionary index out of range")
		}
		if r.Err == nil {
			recs[k] = record{key: b.Key(k), start: b.Start[k], end: b.End[k], cost: b.Cost[k], tenant: dict[t], sub: dict[s],
				resource: b.S(usage.ColResource, k), service: b.S(usage.ColService, k), currency: b.S(usage.ColCurrency, k),
				provider: legacyProvider}
		}
	}
	if r.Err != nil {
		return r.Err
	}
	return decodeRows(r, recs, dict, row, inc)
}
