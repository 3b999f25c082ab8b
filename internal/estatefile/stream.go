package estatefile

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The bulk path: importing an estate file into a database that holds no estate yet (no
// versions in any table with windows). There is nothing to diff against, so every version
// the file gives is written as it is, which is what the general path computes too (resolve
// of a new key is the file's versions). The file is decoded as a stream, one section (and
// for principals and role assignments one entity) at a time, and rows go to the engine's bulk
// loader (COPY on PostgreSQL) in batches, all in one transaction: a problem anywhere in the
// file rolls everything back. Memory holds the references later sections check (tenants,
// principals, roles, ...) and one key per entity for the overlap check, not the file.

// errNotEmpty means the bulk path does not apply: the estate has stored versions to diff.
var errNotEmpty = errors.New("estate not empty")

// bulkBatch is the number of rows handed to the loader at a time: large enough that COPY
// and multi-row inserts run at full speed, small enough to keep memory flat.
const bulkBatch = 5000

// estateTables are the tables an estate import reads or writes. On PostgreSQL the bulk path
// locks them against other writers so that what it reads through the pool (other
// connections) stays what its transaction sees. SQLite's load holds the write lock already.
var estateTables = []string{"partner_orgs", "partner_org_tenants", "partner_locations", "partner_location_active",
	"tenants", "management_groups", "subscriptions", "subscription_dpor", "principals", "group_memberships",
	"role_definitions", "role_assignments", "pim_activations", "delegations", "delegation_authorizations",
	"links", "link_spans", "link_history", "tracking_ids", "deployments"}

// A section of the estate file: its key, the sections whose entities it refers to (they must
// be applied first), and how its value is decoded and validated.
type section struct {
	key  string
	deps []string
	read func(s *streamer, dec *json.Decoder) error
}

// sections in the order of the format (and of export). A section whose dependencies have not
// all been seen when it is reached is kept as raw JSON and applied once they have been, or at
// the end of the file, so any key order gives the result of the general path.
var sections = []*section{
	{key: "partners", read: func(s *streamer, dec *json.Decoder) error {
		var list []Partner
		if err := s.decodeList(dec, "partners", &list); err != nil {
			return err
		}
		s.p.partnerList(list, s.k)
		s.entities += len(list)
		orgs := s.p.orgs
		err := s.whenValid(func() error { return s.simple.orgs(orgs) })
		s.p.orgs = nil
		return err
	}},
	{key: "tenants", read: func(s *streamer, dec *json.Decoder) error {
		var list []Tenant
		if err := s.decodeList(dec, "tenants", &list); err != nil {
			return err
		}
		s.p.tenantList(list, s.k)
		s.entities += len(list)
		tenants := s.p.tenants
		err := s.whenValid(func() error { return s.simple.tenants(tenants) })
		s.p.tenants = nil
		return err
	}},
	{key: "subscriptions", deps: []string{"partners", "tenants"}, read: func(s *streamer, dec *json.Decoder) error {
		var list []Subscription
		if err := s.decodeList(dec, "subscriptions", &list); err != nil {
			return err
		}
		s.p.subscriptions(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "principals", deps: []string{"tenants"}, read: func(s *streamer, dec *json.Decoder) error {
		// Memberships may name groups listed later: they are checked at the end of the list.
		type member struct {
			i        int
			tid, oid string
			of       []Membership
		}
		var members []member
		var pr Principal
		err := s.eachElement(dec, "principals", func(i int) any { pr = Principal{}; return &pr }, func(i int) {
			s.p.registerPrincipal(i, &pr, s.k)
			if tid, oid, ok := s.p.principal(i, &pr, s.k); ok && len(pr.MemberOf) > 0 {
				members = append(members, member{i, tid, oid, pr.MemberOf})
			}
			s.entities++
		})
		if err != nil {
			return err
		}
		for _, m := range members {
			s.p.memberships(m.i, m.tid, m.oid, m.of, s.k)
		}
		return nil
	}},
	{key: "roleDefinitions", read: func(s *streamer, dec *json.Decoder) error {
		var list []RoleDefinition
		if err := s.decodeList(dec, "roleDefinitions", &list); err != nil {
			return err
		}
		s.p.roleDefinitions(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "roleAssignments", deps: []string{"tenants", "principals", "roleDefinitions"}, read: func(s *streamer, dec *json.Decoder) error {
		var a RoleAssignment
		return s.eachElement(dec, "roleAssignments", func(i int) any { a = RoleAssignment{}; return &a }, func(i int) {
			s.p.assignment(i, &a, s.k)
			s.entities++
		})
	}},
	{key: "delegations", deps: []string{"tenants", "roleDefinitions"}, read: func(s *streamer, dec *json.Decoder) error {
		var list []Delegation
		if err := s.decodeList(dec, "delegations", &list); err != nil {
			return err
		}
		s.p.delegations(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "links", deps: []string{"partners", "principals"}, read: func(s *streamer, dec *json.Decoder) error {
		var list []Link
		if err := s.decodeList(dec, "links", &list); err != nil {
			return err
		}
		s.p.links(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "trackingIds", deps: []string{"partners"}, read: func(s *streamer, dec *json.Decoder) error {
		var list []TrackingID
		if err := s.decodeList(dec, "trackingIds", &list); err != nil {
			return err
		}
		s.p.trackingIDs(list, s.k)
		s.entities += len(list)
		tracking := s.p.tracking
		err := s.whenValid(func() error { return s.simple.tracking(tracking) })
		s.p.tracking = nil
		return err
	}},
	{key: "deployments", deps: []string{"trackingIds"}, read: func(s *streamer, dec *json.Decoder) error {
		var list []Deployment
		if err := s.decodeList(dec, "deployments", &list); err != nil {
			return err
		}
		s.p.deployments(list, s.k)
		s.entities += len(list)
		deploys := s.p.deploys
		err := s.whenValid(func() error { return s.writeDeployments(deploys) })
		s.p.deploys = nil
		return err
	}},
}

// overlapTracker remembers, per overlap group (see overlapKey), the first version's window
// and, only for groups with more than one version, all of them: most entities have one.
type overlapTracker struct {
	first map[string]span
	more  map[string][]span
	// keys counts distinct entities where they differ from overlap groups (memberships and
	// authorizations: one entity, the member or delegation, has several groups).
	keys map[string]struct{}
}

func (o *overlapTracker) add(t *table, v version) {
	k := overlapKey(t, v.cols)
	sp := span{v.from, v.to, v.path}
	if first, ok := o.first[k]; !ok {
		o.first[k] = sp
	} else {
		if o.more[k] == nil {
			o.more[k] = []span{first}
		}
		o.more[k] = append(o.more[k], sp)
	}
	if o.keys != nil {
		o.keys[t.key(v.cols)] = struct{}{}
	}
}

func (o *overlapTracker) entities() int {
	if o.keys != nil {
		return len(o.keys)
	}
	return len(o.first)
}

// compactTracker does the overlap tracker's job for the tables with an entry per entity
// (principals, role assignments, PIM activations: millions of rows) without keeping a string
// per entity: a 128-bit hash of the overlap key, the window and the element index, 40 bytes
// without pointers. Sorting by hash then element groups each key's versions in file order.
// Two different keys share both 64-bit hashes with a probability of about n²/2¹²⁹, nil.
type compactTracker struct {
	seeds [2]maphash.Seed
	recs  []compactRec
}

type compactRec struct {
	h        [2]uint64
	from, to int64
	elem     [2]int32
}

func (c *compactTracker) add(t *table, v version) {
	k := overlapKey(t, v.cols)
	c.recs = append(c.recs, compactRec{[2]uint64{maphash.String(c.seeds[0], k), maphash.String(c.seeds[1], k)}, v.from, v.to, v.elem})
}

// check sorts the records and returns the overlap problems and the number of distinct keys.
func (c *compactTracker) check(t *table) ([]Problem, int) {
	slices.SortFunc(c.recs, func(a, b compactRec) int {
		if a.h != b.h {
			if a.h[0] != b.h[0] {
				return cmp.Compare(a.h[0], b.h[0])
			}
			return cmp.Compare(a.h[1], b.h[1])
		}
		if a.elem[0] != b.elem[0] {
			return cmp.Compare(a.elem[0], b.elem[0])
		}
		return cmp.Compare(a.elem[1], b.elem[1])
	})
	var errs []Problem
	keys := 0
	for i := 0; i < len(c.recs); {
		j := i + 1
		for j < len(c.recs) && c.recs[j].h == c.recs[i].h {
			j++
		}
		keys++
		if j-i > 1 {
			spans := make([]span, 0, j-i)
			for _, r := range c.recs[i:j] {
				spans = append(spans, span{r.from, r.to, elemPath(t, r.elem)})
			}
			errs = append(errs, overlapProblems(t, spans)...)
		}
		i = j
	}
	c.recs = nil
	return errs, keys
}

// elemPath is the JSON path of a version the compact tracker kept.
func elemPath(t *table, e [2]int32) string {
	switch t {
	case tPrincipals:
		return fmt.Sprintf("principals[%d]", e[0])
	case tActivations:
		return fmt.Sprintf("roleAssignments[%d].activations[%d]", e[0], e[1])
	}
	return fmt.Sprintf("roleAssignments[%d]", e[0])
}

// streamer is one bulk import in progress.
type streamer struct {
	ctx    context.Context
	db     *store.DB
	ld     store.Loader
	name   string
	asOf   int64
	strict bool
	rep    *Report
	p      *plan
	k      *known
	simple *simpleWriter
	pos    *posReader

	overlaps map[*table]*overlapTracker
	compact  map[*table]*compactTracker
	pending  map[*table][][]any
	// Writes run on their own goroutine, in the order queued, while decoding goes on: the
	// loader (one connection, one transaction) is only ever used from there.
	writes   chan func() error
	wrote    chan struct{}
	writeErr error // the first write failure (set by the writer); later writes are skipped
	// skipConflicts: on SQLite INSERT OR IGNORE spares the statement journal. The tables are
	// empty, so a conflict can only be two versions of one key with the same start, which the
	// overlap check rejects, rolling everything back. PostgreSQL's plain COPY is its fastest.
	skipConflicts bool
	written       int
	entities      int
	unknown       map[string]bool // unknown fields already warned about
	// openLinks: per principal (tenant \x00 object), the link span without an end.
	openLinks map[string]openLink
}

type openLink struct {
	loc  string
	from int64
}

// bulkImport is Import for a database without estate versions. It returns errNotEmpty,
// having read nothing from r, when the estate has versions (the general path diffs them)
// or when the pool cannot give a second connection for reads (an in-memory SQLite).
func bulkImport(ctx context.Context, db *store.DB, r io.Reader, name string, asOf int64, now func() time.Time, opts Options, hashAll func() (string, error)) (*Report, error) {
	if db.Stats().MaxOpenConnections == 1 {
		return nil, errNotEmpty
	}
	rep := &Report{DryRun: opts.DryRun}
	err := db.Load(ctx, func(ld store.Loader) error {
		rep.Kinds = map[string]*Counts{}
		rep.Warnings = nil
		if db.Engine() == store.Postgres {
			if _, err := ld.Exec(ctx, `LOCK TABLE `+strings.Join(estateTables, ", ")+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		empty, err := estateEmpty(ctx, db)
		if err != nil {
			return err
		}
		if !empty {
			return errNotEmpty
		}
		k, err := loadKnown(ctx, db)
		if err != nil {
			return err
		}
		s := &streamer{ctx: ctx, db: db, ld: ld, name: name, asOf: asOf, strict: opts.Strict, rep: rep, p: newPlan(), k: k,
			overlaps: map[*table]*overlapTracker{}, pending: map[*table][][]any{}, unknown: map[string]bool{}, openLinks: map[string]openLink{}}
		s.simple = &simpleWriter{ctx: ctx, q: db, rep: rep, exec: func(q string, args ...any) (int64, error) { return ld.Exec(ctx, q, args...) }}
		s.compact = map[*table]*compactTracker{}
		for _, t := range []*table{tPrincipals, tAssignments, tActivations} {
			s.compact[t] = &compactTracker{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
		}
		for _, t := range versionedTables {
			o := &overlapTracker{first: map[string]span{}, more: map[string][]span{}}
			if t == tMemberships || t == tAuthorizations {
				o.keys = map[string]struct{}{}
			}
			s.overlaps[t] = o
		}
		s.p.sink = s.add
		s.skipConflicts = db.Engine() == store.SQLite
		s.startWriter()
		defer s.stopWriter()
		if err := s.run(r); err != nil {
			return err
		}
		if err := s.finish(); err != nil {
			return err
		}
		if opts.DryRun {
			return errDryRun
		}
		hash, err := hashAll()
		if err != nil {
			return err
		}
		rep.ImportID = store.NewID()
		summary, _ := json.Marshal(rep.Kinds)
		_, err = ld.Exec(ctx, `INSERT INTO imports (id, kind, file_name, file_hash, rows_read, rows_added, summary, started_at, finished_at, status)
			VALUES ($1, 'estate', $2, $3, $4, $5, $6, $7, $8, 'done')`,
			rep.ImportID, name, hash, int64(s.entities), int64(s.written+s.simple.written), string(summary), now().UnixNano(), now().UnixNano())
		return err
	})
	if errors.Is(err, errDryRun) {
		return rep, nil
	}
	if errors.Is(err, errNotEmpty) {
		return nil, errNotEmpty
	}
	var inv *InvalidError
	if errors.As(err, &inv) {
		return nil, inv
	}
	if err != nil {
		return nil, db.Translate(err)
	}
	return rep, nil
}

// estateEmpty reports whether no table with windows holds a version.
func estateEmpty(ctx context.Context, q store.Querier) (bool, error) {
	for _, t := range versionedTables {
		var n int
		err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM `+t.name+` LIMIT 1) AS x`).Scan(&n)
		if err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	return true, nil
}

// run decodes the top-level object section by section.
func (s *streamer) run(r io.Reader) error {
	s.pos = &posReader{r: r}
	dec := json.NewDecoder(s.pos)
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return s.jsonError("", dec, 0, err)
	}
	if tok == nil {
		return nil // null: an empty file, as the general path reads it
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%s:1:1: an estate file is a JSON object with partners, tenants, ... lists, not a JSON %v", s.name, tok)
	}
	byKey := map[string]*section{}
	for _, sec := range sections {
		byKey[sec.key] = sec
	}
	seen := map[string]bool{}
	deferred := map[string][]byte{}
	ready := func(sec *section) bool {
		for _, d := range sec.deps {
			if !seen[d] {
				return false
			}
		}
		return true
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return s.jsonError("", dec, 0, err)
		}
		key, _ := tok.(string)
		sec := byKey[key]
		if sec == nil {
			if err := s.unknownField("$", key); err != nil {
				return err
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return s.jsonError(key, dec, 0, err)
			}
			continue
		}
		if seen[key] || deferred[key] != nil {
			s.p.fail(key, "%s appears twice in the file; give each list once", key)
		}
		if !ready(sec) {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return s.jsonError(key, dec, 0, err)
			}
			deferred[key] = raw
			continue
		}
		if err := sec.read(s, dec); err != nil {
			return err
		}
		seen[key] = true
		if err := s.runDeferred(deferred, seen, ready, false); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return s.jsonError("", dec, 0, err)
	}
	// Sections whose dependencies the file lacks refer to what is stored: apply them now.
	return s.runDeferred(deferred, seen, ready, true)
}

// runDeferred applies kept sections, in the format's order, once their dependencies have been
// applied (or, at the end of the file, all of them).
func (s *streamer) runDeferred(deferred map[string][]byte, seen map[string]bool, ready func(*section) bool, all bool) error {
	for progress := true; progress; {
		progress = false
		for _, sec := range sections {
			raw, ok := deferred[sec.key]
			if !ok || !all && !ready(sec) {
				continue
			}
			delete(deferred, sec.key)
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			// Positions inside a kept section are counted from its start.
			s.pos = &posReader{r: bytes.NewReader(raw), base: sec.key}
			if err := sec.read(s, dec); err != nil {
				return err
			}
			seen[sec.key] = true
			progress = true
		}
	}
	return nil
}

// decodeList decodes a whole (small) section.
func (s *streamer) decodeList(dec *json.Decoder, key string, v any) error {
	start := dec.InputOffset()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			// The rest of the value was decoded: an unknown field is a warning unless strict.
			return s.unknownField(key, strings.Trim(msg, `"`))
		}
	}
	if err != nil {
		return s.jsonError(key, dec, start, err)
	}
	return nil
}

// eachElement decodes a (large) section one element at a time: elem returns where to decode
// element i, done validates it.
func (s *streamer) eachElement(dec *json.Decoder, key string, elem func(i int) any, done func(i int)) error {
	tok, err := dec.Token()
	if err != nil {
		return s.jsonError(key, dec, 0, err)
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%s: %s must be a list, not a JSON %v", s.name, key, tok)
	}
	for i := 0; dec.More(); i++ {
		start := dec.InputOffset()
		if i > 0 {
			start++ // the comma before the element
		}
		path := fmt.Sprintf("%s[%d]", key, i)
		err := dec.Decode(elem(i))
		if err != nil {
			var te *json.UnmarshalTypeError
			msg, unknown := strings.CutPrefix(err.Error(), "json: unknown field ")
			if unknown && !errors.As(err, &te) {
				if err := s.unknownField(path, strings.Trim(msg, `"`)); err != nil {
					return err
				}
			} else {
				return s.jsonError(path, dec, start, err)
			}
		}
		done(i)
	}
	if _, err := dec.Token(); err != nil {
		return s.jsonError(key, dec, 0, err)
	}
	return nil
}

// unknownField warns once per field name, or fails when strict (as the general path does).
func (s *streamer) unknownField(path, field string) error {
	p := Problem{Path: path, Msg: fmt.Sprintf("unknown field %q (not in the estate format; check its spelling)", field)}
	if s.strict {
		return fmt.Errorf("%s: %s (--strict)", s.name, p)
	}
	if !s.unknown[field] {
		s.unknown[field] = true
		s.rep.Warnings = append(s.rep.Warnings, p)
	}
	return nil
}

// jsonError names the file, line and column (and the section or element) of a decoding error.
// start is the offset where the value being decoded began (type errors count from there).
func (s *streamer) jsonError(path string, dec *json.Decoder, start int64, err error) error {
	where := ""
	if path != "" {
		where = path + ": "
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := path
		if te.Field != "" {
			field += "." + te.Field
		}
		return fmt.Errorf("%s%s: %s must be %s, not a JSON %s", s.name, s.pos.position(start+te.Offset), strings.TrimPrefix(field, "."), te.Type, te.Value)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %snot valid JSON: the file ends in the middle of a value", s.name, where)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// The decoder stops at the start of the value it could not read.
		return fmt.Errorf("%s%s: %snot valid JSON: %v", s.name, s.pos.position(dec.InputOffset()), where, se)
	}
	return fmt.Errorf("%s: %s%v", s.name, where, err)
}

func (s *streamer) startWriter() {
	s.writes = make(chan func() error, 4)
	s.wrote = make(chan struct{})
	go func() {
		defer close(s.wrote)
		for w := range s.writes {
			if s.writeErr == nil {
				s.writeErr = w()
			}
		}
	}()
}

// stopWriter waits for the queued writes; after it, writeErr is safe to read.
func (s *streamer) stopWriter() {
	if s.writes != nil {
		close(s.writes)
		<-s.wrote
		s.writes = nil
	}
}

// whenValid queues a write only while the file has no problems: after one the import is
// rolled back anyway, and validation goes on to list every problem.
func (s *streamer) whenValid(write func() error) error {
	if len(s.p.errs) == 0 {
		s.writes <- write
	}
	return nil
}

// add receives every validated version: it is tracked for overlaps and queued for the loader.
func (s *streamer) add(t *table, v version) {
	if c := s.compact[t]; c != nil {
		c.add(t, v)
	} else {
		s.overlaps[t].add(t, v)
	}
	if t == tLinkSpans && v.to == timeline.Max {
		s.openLinks[t.key(v.cols)] = openLink{v.cols[2], v.from}
	}
	if len(s.p.errs) > 0 {
		return
	}
	row := make([]any, 0, len(v.cols)+2)
	for _, c := range v.cols {
		row = append(row, c)
	}
	s.pending[t] = append(s.pending[t], append(row, v.from, v.to))
	s.written++
	if len(s.pending[t]) >= bulkBatch {
		// The batch goes to the writer; the next one gets its own backing array.
		s.flush(t)
	}
}

func (s *streamer) flush(t *table) {
	rows := s.pending[t]
	s.pending[t] = nil
	if len(rows) == 0 || len(s.p.errs) > 0 {
		return
	}
	cols := append(append(append([]string{}, t.keyCols...), t.valCols...), "valid_from", "valid_to")
	s.writes <- func() error {
		if _, err := s.ld.Insert(s.ctx, t.name, cols, rows, s.skipConflicts); err != nil {
			return fmt.Errorf("writing %s: %w", t.name, err)
		}
		return nil
	}
}

func (s *streamer) writeDeployments(deploys []deployRow) error {
	rows := make([][]any, 0, len(deploys))
	for _, d := range deploys {
		rows = append(rows, []any{d.resourceID, resourceKey(d.resourceID), d.guid, d.at})
	}
	for start := 0; start < len(rows); start += bulkBatch {
		n, err := s.ld.Insert(s.ctx, "deployments", []string{"resource_id", "resource_key", "tracking_guid", "at"}, rows[start:min(start+bulkBatch, len(rows))], true)
		if err != nil {
			return err
		}
		if n > 0 {
			s.rep.count("deployments").Created += int(n)
			s.simple.written += int(n)
		}
	}
	return nil
}

// finish writes what is queued, checks overlaps, counts, and brings the current links in
// step with the link spans.
func (s *streamer) finish() error {
	for _, t := range versionedTables {
		s.flush(t)
	}
	s.stopWriter()
	var errs []Problem
	created := map[*table]int{}
	for _, t := range versionedTables {
		if c := s.compact[t]; c != nil {
			e, n := c.check(t)
			errs = append(errs, e...)
			created[t] = n
			continue
		}
		for _, vs := range s.overlaps[t].more {
			errs = append(errs, overlapProblems(t, vs)...)
		}
		created[t] = s.overlaps[t].entities()
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	s.p.errs = append(s.p.errs, errs...)
	if len(s.p.errs) > 0 {
		return &InvalidError{File: s.name, Problems: s.p.errs}
	}
	if s.writeErr != nil {
		return s.writeErr
	}
	for _, t := range versionedTables {
		if n := created[t]; n > 0 {
			s.rep.count(kindNames[t]).Created += n
		}
	}
	return s.currentLinks()
}

// currentLinks is applier.currentLinks for the bulk path: the link spans are the file's (the
// table was empty), the current link records are read through the pool (locked), and new
// records and their history rows go to the loader.
func (s *streamer) currentLinks() error {
	spans := s.overlaps[tLinkSpans]
	if len(spans.first) == 0 {
		return nil
	}
	type current struct {
		loc, state string
		version    int64
	}
	stored := map[string]current{}
	rows, err := s.db.QueryContext(s.ctx, `SELECT tenant_id, object_id, location_id, state, version FROM links`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var tid, oid string
		var c current
		if err := rows.Scan(&tid, &oid, &c.loc, &c.state, &c.version); err != nil {
			rows.Close()
			return err
		}
		stored[tid+"\x00"+oid] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	keys := make([]string, 0, len(spans.first))
	for k := range spans.first {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var newLinks, history [][]any
	for _, k := range keys {
		tid, oid, _ := strings.Cut(k, "\x00")
		o, isOpen := s.openLinks[k]
		c, exists := stored[k]
		var action, from, to, newState string
		switch {
		case isOpen && !exists:
			action, to, newState = "backfill", o.loc, "Active"
		case isOpen && (c.state != "Active" || c.loc != o.loc):
			action, from, to, newState = "backfill", c.loc, o.loc, "Active"
		case !isOpen && exists && c.state == "Active":
			action, from, to, newState = "backfill", c.loc, "", "Deleted"
		default:
			continue
		}
		version := c.version + 1
		created := o.from
		if created == timeline.Min || created == 0 {
			created = s.asOf
		}
		if !exists {
			newLinks = append(newLinks, []any{tid, oid, to, version, newState, created, s.asOf})
		} else {
			target := to
			if target == "" {
				target = c.loc
			}
			if _, err := s.ld.Exec(s.ctx, `UPDATE links SET location_id = $3, version = $4, state = $5, updated_at = $6 WHERE tenant_id = $1 AND object_id = $2`,
				tid, oid, target, version, newState, s.asOf); err != nil {
				return err
			}
		}
		history = append(history, []any{store.NewID(), tid, oid, action, from, to, version, s.asOf, "import", ""})
	}
	for start := 0; start < len(newLinks); start += bulkBatch {
		if _, err := s.ld.Insert(s.ctx, "links", []string{"tenant_id", "object_id", "location_id", "version", "state", "created_at", "updated_at"},
			newLinks[start:min(start+bulkBatch, len(newLinks))], false); err != nil {
			return err
		}
	}
	for start := 0; start < len(history); start += bulkBatch {
		if _, err := s.ld.Insert(s.ctx, "link_history", []string{"id", "tenant_id", "object_id", "action", "from_partner_id", "to_partner_id", "version", "at", "by_object_id", "request_id"},
			history[start:min(start+bulkBatch, len(history))], false); err != nil {
			return err
		}
	}
	return nil
}

// posReader passes a reader through, counting lines and keeping the last few chunks read, so
// that a decoding error (which the decoder meets near what it read last) gets a line and
// column without the file being held in memory.
type posReader struct {
	r      io.Reader
	base   string // for a section kept and decoded later: its key (positions count from its start)
	off    int64  // bytes read so far
	lines  int64  // newlines read so far
	lastNL int64  // offset of the last newline read, -1 for none
	chunks [4]posChunk
	next   int
	init   bool
}

type posChunk struct {
	start, lines, lastNL int64 // at the chunk's start
	data                 []byte
}

func (p *posReader) Read(b []byte) (int, error) {
	if !p.init {
		p.lastNL, p.init = -1, true
	}
	n, err := p.r.Read(b)
	if n > 0 {
		c := &p.chunks[p.next]
		p.next = (p.next + 1) % len(p.chunks)
		c.start, c.lines, c.lastNL = p.off, p.lines, p.lastNL
		c.data = append(c.data[:0], b[:n]...)
		p.lines += int64(bytes.Count(b[:n], []byte{'\n'}))
		if i := bytes.LastIndexByte(b[:n], '\n'); i >= 0 {
			p.lastNL = p.off + int64(i)
		}
		p.off += int64(n)
	}
	return n, err
}

// position formats offset off as ":line:col" (or a byte offset when it is no longer kept).
func (p *posReader) position(off int64) string {
	line, col := int64(0), int64(0)
	for _, c := range p.chunks {
		if c.data == nil || off < c.start || off > c.start+int64(len(c.data)) {
			continue
		}
		in := c.data[:off-c.start]
		line = c.lines + int64(bytes.Count(in, []byte{'\n'})) + 1
		if i := bytes.LastIndexByte(in, '\n'); i >= 0 {
			col = int64(len(in) - i)
		} else {
			col = off - c.lastNL
		}
		break
	}
	switch {
	case line == 0 && p.base != "":
		return fmt.Sprintf(" (%s, byte %d of its value)", p.base, off)
	case line == 0:
		return fmt.Sprintf(" (byte %d)", off)
	case p.base != "":
		return fmt.Sprintf(" (%s, line %d column %d of its value)", p.base, line, col)
	}
	return fmt.Sprintf(":%d:%d", line, col)
}
