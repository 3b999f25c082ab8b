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
	"strconv"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/importlog"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/store"
	storetable "github.com/partnerlink/partnerlink/internal/store/table"
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

// estateTables are the tables an estate import reads or writes (link events are only
// inserted). On PostgreSQL the bulk path locks them against other writers so that what it
// reads through the pool (other connections) stays what its transaction sees. SQLite's load
// holds the write lock already.
var estateTables = []*storetable.Table{directory.OrgsTable, directory.OrgTenantsTable, directory.LocationsTable, directory.LocationActiveTable,
	estate.TenantsTable, estate.ManagementGroupsTable, estate.SubscriptionsTable, estate.DPORTable, estate.PrincipalsTable, estate.MembershipsTable,
	access.RoleDefinitionsTable, access.AssignmentsTable, access.ActivationsTable, access.DelegationsTable, access.AuthorizationsTable,
	link.LinksTable, link.SpansTable, link.HistoryTable, estate.TrackingIDsTable, estate.DeploymentsTable,
	directory.IdentifiersTable, account.AccountsTable, account.ResaleTable}

// A section of the estate file: its key, the sections whose entities it refers to (they must
// be applied first), and how its value is decoded and validated.
type section struct {
	key  string
	deps []string
	read func(s *streamer, sc *scanner) error
	// tables are the tables with windows only this section writes: complete once it is read.
	tables []*table
}

// sections in the order of the format (and of export). A section whose dependencies have not
// all been seen when it is reached is kept as raw JSON and applied once they have been, or at
// the end of the file, so any key order gives the result of the general path.
var sections = []*section{
	{key: "partners", tables: []*table{tLocationActive}, read: func(s *streamer, sc *scanner) error {
		var list []Partner
		if err := s.decodeList(sc, "partners", &list); err != nil {
			return err
		}
		s.p.partnerList(list, s.k)
		s.entities += len(list)
		orgs := s.p.orgs
		err := s.whenValid(func() error { return s.simple.orgs(orgs) })
		s.p.orgs = nil
		return err
	}},
	{key: "tenants", tables: []*table{tManagementGroups}, read: func(s *streamer, sc *scanner) error {
		var list []Tenant
		if err := s.decodeList(sc, "tenants", &list); err != nil {
			return err
		}
		s.p.tenantList(list, s.k)
		s.entities += len(list)
		tenants := s.p.tenants
		err := s.whenValid(func() error { return s.simple.tenants(tenants) })
		s.p.tenants = nil
		return err
	}},
	{key: "subscriptions", tables: []*table{tSubscriptions, tDPOR}, deps: []string{"partners", "tenants"}, read: func(s *streamer, sc *scanner) error {
		var list []Subscription
		if err := s.decodeList(sc, "subscriptions", &list); err != nil {
			return err
		}
		s.p.subscriptions(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "principals", tables: []*table{tPrincipals, tMemberships}, deps: []string{"tenants"}, read: func(s *streamer, sc *scanner) error {
		// Memberships may name groups listed later: they are checked at the end of the list.
		type member struct {
			i        int
			tid, oid string
			of       []Membership
		}
		var members []member
		var pr Principal
		var recent recentStrings
		err := s.eachElement(sc, "principals", func() any { pr = Principal{}; return &pr }, func(b []byte) bool { return parsePrincipalRecent(b, &pr, &recent) }, func(i int) {
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
	{key: "roleDefinitions", tables: []*table{tRoleDefinitions}, read: func(s *streamer, sc *scanner) error {
		var list []RoleDefinition
		if err := s.decodeList(sc, "roleDefinitions", &list); err != nil {
			return err
		}
		s.p.roleDefinitions(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "roleAssignments", tables: []*table{tAssignments, tActivations}, deps: []string{"tenants", "principals", "roleDefinitions"}, read: func(s *streamer, sc *scanner) error {
		var a RoleAssignment
		var recent recentStrings
		return s.eachElement(sc, "roleAssignments", func() any { a = RoleAssignment{}; return &a }, func(b []byte) bool { return parseAssignmentRecent(b, &a, &recent) }, func(i int) {
			s.p.assignment(i, &a, s.k)
			s.entities++
		})
	}},
	{key: "delegations", tables: []*table{tDelegations, tAuthorizations}, deps: []string{"tenants", "roleDefinitions"}, read: func(s *streamer, sc *scanner) error {
		var list []Delegation
		if err := s.decodeList(sc, "delegations", &list); err != nil {
			return err
		}
		s.p.delegations(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "links", tables: []*table{tLinkSpans}, deps: []string{"partners", "principals"}, read: func(s *streamer, sc *scanner) error {
		var list []Link
		if err := s.decodeList(sc, "links", &list); err != nil {
			return err
		}
		s.p.links(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "trackingIds", deps: []string{"partners"}, read: func(s *streamer, sc *scanner) error {
		var list []TrackingID
		if err := s.decodeList(sc, "trackingIds", &list); err != nil {
			return err
		}
		s.p.trackingIDs(list, s.k)
		s.entities += len(list)
		tracking := s.p.tracking
		err := s.whenValid(func() error { return s.simple.tracking(tracking) })
		s.p.tracking = nil
		return err
	}},
	{key: "deployments", deps: []string{"trackingIds"}, read: func(s *streamer, sc *scanner) error {
		var list []Deployment
		if err := s.decodeList(sc, "deployments", &list); err != nil {
			return err
		}
		s.p.deployments(list, s.k)
		s.entities += len(list)
		deploys := s.p.deploys
		err := s.whenValid(func() error { return s.simple.deployments(deploys) })
		s.p.deploys = nil
		return err
	}},
	{key: "identifiers", tables: []*table{tIdentifiers}, deps: []string{"partners"}, read: func(s *streamer, sc *scanner) error {
		var list []Identifier
		if err := s.decodeList(sc, "identifiers", &list); err != nil {
			return err
		}
		s.p.identifiers(list, s.k)
		s.entities += len(list)
		return nil
	}},
	{key: "accounts", tables: []*table{tResale}, deps: []string{"partners"}, read: func(s *streamer, sc *scanner) error {
		var list []Account
		if err := s.decodeList(sc, "accounts", &list); err != nil {
			return err
		}
		s.p.accounts(list, s.k)
		s.entities += len(list)
		rows := s.p.accountRows
		err := s.whenValid(func() error { return s.simple.upsert("accounts", account.AccountsTable, rows) })
		s.p.accountRows = nil
		return err
	}},
}

// overlapTracker remembers, per overlap group (see overlapKey), the first version's window
// and, only for groups with more than one version, all of them: most entities have one.
type overlapTracker struct {
	first map[string]span
	more  map[string][]span
	// keys counts distinct entities where they differ from overlap groups (authorizations:
	// one delegation has several).
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
// (principals, group memberships, role assignments, PIM activations: millions of rows) without keeping a string
// per entity: a 128-bit hash of the overlap key, the window and the element index, 40 bytes
// without pointers. Sorting by hash then element groups each key's versions in file order.
// Two different keys share both 64-bit hashes with a probability of about n²/2¹²⁹, nil.
type compactTracker struct {
	seeds [2]maphash.Seed
	recs  []compactRec
	// countKeys: entities are not overlap groups (group memberships: one member, several
	// groups), so their key hashes are kept apart to count them.
	countKeys bool
	keys      [][2]uint64
}

type compactRec struct {
	h        [2]uint64
	from, to int64
	elem     [2]int32
}

func (c *compactTracker) add(t *table, v version) {
	group := v.cols // overlapKey's columns, hashed without joining them into a string
	if !t.child || t == tLinkSpans || t == tDPOR {
		group = v.cols[:len(t.Key)]
	}
	c.recs = append(c.recs, compactRec{[2]uint64{hashCols(c.seeds[0], group), hashCols(c.seeds[1], group)}, v.from, v.to, v.elem})
	if c.countKeys {
		key := v.cols[:len(t.Key)]
		c.keys = append(c.keys, [2]uint64{hashCols(c.seeds[0], key), hashCols(c.seeds[1], key)})
	}
}

// hashCols hashes columns as overlapKey and table.key join them (separated by NUL).
func hashCols(seed maphash.Seed, cols []string) uint64 {
	if len(cols) == 1 {
		return maphash.String(seed, cols[0]) // the same hash as below, without a Hash
	}
	var h maphash.Hash
	h.SetSeed(seed)
	for i, c := range cols {
		if i > 0 {
			h.WriteByte(0)
		}
		h.WriteString(c)
	}
	return h.Sum64()
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
	if c.countKeys {
		slices.SortFunc(c.keys, func(a, b [2]uint64) int {
			if a[0] != b[0] {
				return cmp.Compare(a[0], b[0])
			}
			return cmp.Compare(a[1], b[1])
		})
		keys = len(slices.Compact(c.keys))
		c.keys = nil
	}
	return errs, keys
}

// elemPath is the JSON path of a version the compact tracker kept.
func elemPath(t *table, e [2]int32) string {
	switch t {
	case tPrincipals:
		return fmt.Sprintf("principals[%d]", e[0])
	case tActivations:
		return fmt.Sprintf("roleAssignments[%d].activations[%d]", e[0], e[1])
	case tMemberships:
		return fmt.Sprintf("principals[%d].memberOf[%d]", e[0], e[1])
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

	overlaps map[*table]*overlapTracker
	compact  map[*table]*compactTracker
	pending  map[*table][][]any
	boxers   map[*table]*boxer
	// builds are the statements that build a table's deferred indexes again, by table name,
	// until they are queued (see complete).
	builds map[string][]string
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
		if err := storetable.Lock(ctx, db, ld, estateTables); err != nil {
			return err
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
		// After this no read through the pool may touch a table with windows: the drop holds
		// them locked against every other connection until the load commits.
		versioned := make([]*storetable.Table, len(versionedTables))
		for i, t := range versionedTables {
			versioned[i] = t.Table
		}
		builds, err := storetable.DeferIndexes(ctx, db, ld, versioned)
		if err != nil {
			return err
		}
		s := &streamer{ctx: ctx, db: db, ld: ld, name: name, asOf: asOf, strict: opts.Strict, rep: rep, p: newPlan(), k: k,
			overlaps: map[*table]*overlapTracker{}, pending: map[*table][][]any{}, boxers: map[*table]*boxer{}, unknown: map[string]bool{}, openLinks: map[string]openLink{}, builds: builds}
		s.simple = &simpleWriter{ctx: ctx, q: db, ld: ld, rep: rep}
		s.compact = map[*table]*compactTracker{}
		for _, t := range []*table{tPrincipals, tMemberships, tAssignments, tActivations} {
			s.compact[t] = &compactTracker{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, countKeys: t == tMemberships}
		}
		for _, t := range versionedTables {
			o := &overlapTracker{first: map[string]span{}, more: map[string][]span{}}
			if t == tAuthorizations {
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
		return importlog.Insert(ctx, ld, importlog.Import{ID: rep.ImportID, Kind: "estate", FileName: name, FileHash: hash,
			RowsRead: int64(s.entities), RowsAdded: int64(s.written + s.simple.written), Summary: string(summary),
			StartedAt: now().UnixNano(), FinishedAt: now().UnixNano(), Status: importlog.Done})
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
		if empty, err := t.Empty(ctx, q); err != nil || !empty {
			return false, err
		}
	}
	return true, nil
}

// run reads the top-level object section by section.
func (s *streamer) run(r io.Reader) error {
	sc := newScanner(r, "")
	switch sc.peek() {
	case '{':
		sc.pos++
	default:
		raw, start, _ := sc.value()
		var v any
		if err := json.Unmarshal(raw, &v); err != nil || raw == nil {
			return s.readError(sc, "$", raw, start, err)
		}
		return fmt.Errorf("%s:1:1: an estate file is a JSON object with partners, tenants, ... lists, not %s", s.name, jsonKind(raw))
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
	if sc.expect('}') {
		return s.end(sc)
	}
	for {
		raw, start, err := sc.value()
		var key string
		if err == nil {
			err = json.Unmarshal(raw, &key)
		}
		if err != nil || len(raw) == 0 || raw[0] != '"' || !sc.expect(':') {
			return s.readError(sc, "$", raw, start, err)
		}
		sec := byKey[key]
		switch {
		case sec == nil:
			if err := s.unknownField("$", key); err != nil {
				return err
			}
			if raw, start, err := sc.value(); err != nil {
				return s.readError(sc, key, raw, start, err)
			}
		case !ready(sec):
			if seen[key] || deferred[key] != nil {
				s.p.fail(key, "%s appears twice in the file; give each list once", key)
			}
			raw, start, err := sc.value()
			if err != nil {
				return s.readError(sc, key, raw, start, err)
			}
			deferred[key] = bytes.Clone(raw)
		default:
			if seen[key] || deferred[key] != nil {
				s.p.fail(key, "%s appears twice in the file; give each list once", key)
			}
			if err := sec.read(s, sc); err != nil {
				return err
			}
			s.complete(sec.tables)
			seen[key] = true
			if err := s.runDeferred(deferred, seen, ready, false); err != nil {
				return err
			}
		}
		sc.release()
		if sc.expect(',') {
			continue
		}
		if sc.expect('}') {
			break
		}
		return fmt.Errorf("%s%s: not valid JSON: expected , or } after the value of %s", s.name, sc.position(sc.abs(sc.pos)), key)
	}
	if err := s.end(sc); err != nil {
		return err
	}
	// Sections whose dependencies the file lacks refer to what is stored: apply them now.
	return s.runDeferred(deferred, seen, ready, true)
}

// end refuses anything but white space after the top-level object (as oneObject does).
func (s *streamer) end(sc *scanner) error {
	if c := sc.peek(); c != 0 {
		return fmt.Errorf("%s%s: more data after the end of the JSON document (%.20q...); a file holds one JSON value: "+
			"put several pages or objects in one [ ... ] list", s.name, sc.position(sc.abs(sc.pos)), sc.buf[sc.pos:min(sc.pos+20, len(sc.buf))])
	}
	return sc.err
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
			// Positions inside a kept section are counted from its start.
			if err := sec.read(s, newScanner(bytes.NewReader(raw), sec.key)); err != nil {
				return err
			}
			s.complete(sec.tables)
			seen[sec.key] = true
			progress = true
		}
	}
	return nil
}

// decode decodes one value with encoding/json, as the general path does: an unknown field is
// a warning (the rest of the value is decoded) unless strict.
func (s *streamer) decode(sc *scanner, path string, raw []byte, start int64, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return s.unknownField(path, strings.Trim(msg, `"`))
		}
	}
	if err != nil {
		return s.readError(sc, path, raw, start, err)
	}
	return nil
}

// decodeList decodes a whole (small) section.
func (s *streamer) decodeList(sc *scanner, key string, v any) error {
	raw, start, err := sc.value()
	if err != nil {
		return s.readError(sc, key, raw, start, err)
	}
	return s.decode(sc, key, raw, start, v)
}

// eachElement reads a (large) section one element at a time: reset zeroes the element and
// returns it, fast parses the plain shape into it, done validates element i.
func (s *streamer) eachElement(sc *scanner, key string, reset func() any, fast func([]byte) bool, done func(i int)) error {
	switch sc.peek() {
	case 'n':
		raw, start, err := sc.value()
		if err != nil || string(raw) != "null" {
			return s.readError(sc, key, raw, start, err)
		}
		return nil
	case '[':
		sc.pos++
	default:
		raw, start, err := sc.value()
		if err != nil {
			return s.readError(sc, key, raw, start, err)
		}
		return fmt.Errorf("%s%s: %s must be a list, not %.20s", s.name, sc.position(start), key, raw)
	}
	if sc.expect(']') {
		return nil
	}
	for i := 0; ; i++ {
		if i%4096 == 0 && s.ctx.Err() != nil {
			return s.ctx.Err() // interrupted: stop reading, the load rolls back
		}
		path := func() string { return key + "[" + strconv.Itoa(i) + "]" } // for problems only
		raw, start, err := sc.value()
		if err != nil {
			return s.readError(sc, path(), raw, start, err)
		}
		if !fast(raw) {
			if err := s.decode(sc, path(), raw, start, reset()); err != nil {
				return err
			}
		}
		done(i)
		sc.release()
		reset()
		if sc.expect(',') {
			continue
		}
		if sc.expect(']') {
			return nil
		}
		return fmt.Errorf("%s%s: not valid JSON: expected , or ] after %s", s.name, sc.position(sc.abs(sc.pos)), path())
	}
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

// readError names the file, line and column, and the section or element, of a value that
// could not be read or decoded. start is the value's file offset.
func (s *streamer) readError(sc *scanner, path string, raw []byte, start int64, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := path
		if te.Field != "" {
			field += "." + te.Field
		}
		return fmt.Errorf("%s%s: %s must be %s, not a JSON %s", s.name, sc.position(start+te.Offset), strings.TrimPrefix(field, "$."), te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s%s: %s: not valid JSON: the file ends in the middle of a value", s.name, sc.position(start), path)
	case err != nil && !errors.As(err, &se):
		return fmt.Errorf("reading %s: %w", s.name, err)
	}
	return sc.syntaxError(s.name, path, raw, start)
}

// complete is called when tables hold every row the file gives them: their last rows go to
// the writer, then the builds of their deferred indexes (PostgreSQL), which the server runs
// while the file's next sections are read and queued. The writer's queue (writerQueue) is
// long enough on PostgreSQL to go on reading through the principals' builds.
func (s *streamer) complete(tables []*table) {
	for _, t := range tables {
		s.flush(t)
		builds := s.builds[t.Name]
		delete(s.builds, t.Name)
		if len(builds) > 0 {
			_ = s.whenValid(func() error {
				for _, q := range builds {
					if _, err := s.ld.Exec(s.ctx, q); err != nil {
						return fmt.Errorf("building the indexes of %s: %w", t.Name, err)
					}
				}
				return nil
			})
		}
	}
}

// writerQueue is how many writes (batches, index builds) may wait for the writer: on SQLite
// the writer is the slower side and a longer queue would only hold more rows; on PostgreSQL
// 24 batches (120,000 rows) keep the reading going while the server builds the principals'
// indexes. (64 batches gave no clearer gain on the shared machine and 130 MB more peak RSS.)
func writerQueue(engine string) int {
	if engine == store.Postgres {
		return 24
	}
	return 4
}

func (s *streamer) startWriter() {
	s.writes = make(chan func() error, writerQueue(s.db.Engine()))
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
	s.pending[t] = append(s.pending[t], s.boxes(t).row(v))
	s.written++
	if len(s.pending[t]) >= bulkBatch {
		// The batch goes to the writer; the next one gets its own backing array.
		s.flush(t)
	}
}

// boxer builds a table's loader rows ([]any) with few allocations: the rows of a batch share
// one backing array, and a column value equal to the previous row's (the tenant of a run of
// assignments, their kind, open window bounds) reuses its interface value instead of boxing
// the string or number again.
type boxer struct {
	slab []any
	last []string
	box  []any
	from int64
	to   int64
	bf   any
	bt   any
}

func (s *streamer) boxes(t *table) *boxer {
	b := s.boxers[t]
	if b == nil {
		b = &boxer{bf: timeline.Min, bt: timeline.Max, from: timeline.Min, to: timeline.Max}
		s.boxers[t] = b
	}
	return b
}

func (b *boxer) row(v version) []any {
	n := len(v.cols) + 2
	if len(b.slab) < n {
		b.slab = make([]any, n*bulkBatch) // a batch's rows; the writer owns them once queued
	}
	if len(b.last) != len(v.cols) {
		b.last, b.box = make([]string, len(v.cols)), make([]any, len(v.cols))
	}
	row := b.slab[:n:n]
	b.slab = b.slab[n:]
	for i, c := range v.cols {
		if b.box[i] == nil || c != b.last[i] {
			b.last[i], b.box[i] = c, c
		}
		row[i] = b.box[i]
	}
	if v.from != b.from {
		b.from, b.bf = v.from, v.from
	}
	if v.to != b.to {
		b.to, b.bt = v.to, v.to
	}
	row[n-2], row[n-1] = b.bf, b.bt
	return row
}

func (s *streamer) flush(t *table) {
	rows := s.pending[t]
	s.pending[t] = nil
	if len(rows) == 0 || len(s.p.errs) > 0 {
		return
	}
	s.writes <- func() error {
		if _, err := t.Insert(s.ctx, s.ld, rows, s.skipConflicts); err != nil {
			return fmt.Errorf("writing %s: %w", t.Name, err)
		}
		return nil
	}
}

// finish writes what is queued, checks overlaps, counts, and brings the current links in
// step with the link spans.
func (s *streamer) finish() error {
	s.complete(versionedTables) // the tables of sections the file lacks, empty, get theirs too
	// The overlap check runs while the writer works through its queue.
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
	s.stopWriter()
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

// currentLinks brings the current link records in step with the link windows the file
// gave (the table was empty) through link.Backfill, which reads the records through the pool
// (locked) and writes through the loader.
func (s *streamer) currentLinks() error {
	spans := s.overlaps[tLinkSpans]
	if len(spans.first) == 0 {
		return nil
	}
	ps := make([]link.Backfilled, 0, len(spans.first))
	for k := range spans.first {
		b := link.Backfilled{}
		b.TenantID, b.ObjectID, _ = strings.Cut(k, "\x00")
		if o, ok := s.openLinks[k]; ok {
			b.Open, b.OpenFrom = o.loc, o.from
		}
		ps = append(ps, b)
	}
	return link.Backfill(s.ctx, s.db, s.ld, s.asOf, ps)
}
