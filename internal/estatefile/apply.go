package estatefile

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Options control an estate import.
type Options struct {
	AsOf   int64 // when changes take effect (Unix ns); 0 means now
	Strict bool  // unknown fields are errors
	DryRun bool  // compute and report the changes, write nothing
	Now    func() time.Time

	// Scopes are the scopes an Azure snapshot export was taken at (role assignments, PIM
	// eligibility): missing assignments are closed at or below them. Empty: the scopes the
	// file itself shows (see docs/estate.md, "What a snapshot covers").
	Scopes []string

	// closeRule, when set, decides which stored open versions missing from the file are
	// closed (the Azure adapters' snapshot rules); nil keeps the estate file's rule.
	closeRule func(t *table, cols []string) bool
	// ensureOnly tables are only created where missing, never changed (adapters name
	// principals they reference but know nothing else about).
	ensureOnly map[*table]bool
	kind       string // the imports.kind recorded; "estate" when empty
	// noBulk keeps a first import on the general path (tests compare the two paths).
	noBulk bool
	// adapter, for the Azure exports: the file as read, and how it becomes an estate file.
	adapter *adapter
}

// adapter is what an Azure export adds to an import: it builds the estate file from the
// export's entries inside the import's transaction (it may read what is stored, and is run
// again if the transaction is retried), and may write more once the file is applied.
type adapter struct {
	doc *azDoc
	// build returns the estate file the export stands for; it records skipped entries in
	// skipped (reset first) and maps paths of the file it built back to the export's.
	build func(ctx context.Context, tx *sql.Tx, k *known) (*File, error)
	// after runs once the file is applied (PIM activations).
	after   func(ctx context.Context, tx *sql.Tx, rep *Report) error
	skipped []Problem
	origins map[string]origin // by element of the built file, e.g. roleAssignments[3]
	covers  []string          // what a snapshot covered, for the report
}

// origin is where an element of the built file came from: the export's entry, and the
// export's name of each field the problems of the element can name.
type origin struct {
	path   string
	fields map[string]string // e.g. ".from" -> ".properties.createdOn"
}

// Counts are the changes to one kind of entity.
type Counts struct {
	Created int `json:"created"`
	Changed int `json:"changed"`
	Closed  int `json:"closed"`
}

// Report says what an import changed (or, in a dry run, would change).
type Report struct {
	ImportID string             `json:"importId,omitempty"`
	DryRun   bool               `json:"dryRun"`
	Kinds    map[string]*Counts `json:"kinds"`
	Warnings []Problem          `json:"-"`
	// NotStored counts the entries of version 2 keys (identifiers, accounts) that were
	// checked but are not stored yet.
	NotStored map[string]int `json:"notStored,omitempty"`

	// For Azure exports: how the file was read, its entries, those used and those skipped
	// (each with its JSON path and reason), and the scopes a snapshot covered.
	Shape   string    `json:"shape,omitempty"`
	Entries int       `json:"entries,omitempty"`
	Used    int       `json:"used,omitempty"`
	Skipped []Problem `json:"-"`
	Covers  []string  `json:"covers,omitempty"`
}

func (r *Report) count(kind string) *Counts {
	c := r.Kinds[kind]
	if c == nil {
		c = &Counts{}
		r.Kinds[kind] = c
	}
	return c
}

// Summary lists the counts per kind, one line each, in a stable order.
func (r *Report) Summary() string {
	kinds := make([]string, 0, len(r.Kinds))
	for k := range r.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		c := r.Kinds[k]
		fmt.Fprintf(&b, "%-26s %6d created %6d changed %6d closed\n", k, c.Created, c.Changed, c.Closed)
	}
	if len(kinds) == 0 {
		b.WriteString("no changes\n")
	}
	keys := make([]string, 0, len(r.NotStored))
	for k := range r.NotStored {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%-26s %6d checked, not yet stored (this version of partnerlink does not store them)\n", k, r.NotStored[k])
	}
	if r.Shape != "" {
		fmt.Fprintf(&b, "read as: %s\n", r.Shape)
		fmt.Fprintf(&b, "entries: %d read, %d used, %d skipped\n", r.Entries, r.Used, len(r.Skipped))
		b.WriteString(skipSummary(r.Skipped))
	}
	if len(r.Covers) > 0 {
		fmt.Fprintf(&b, "snapshot of: %s\n", strings.Join(r.Covers, ", "))
	}
	return b.String()
}

// skipSummary groups skipped entries by reason: the count and the first few paths of each.
func skipSummary(skipped []Problem) string {
	var reasons []string
	paths := map[string][]string{}
	for _, p := range skipped {
		if paths[p.Msg] == nil {
			reasons = append(reasons, p.Msg)
		}
		paths[p.Msg] = append(paths[p.Msg], p.Path)
	}
	var b strings.Builder
	for _, r := range reasons {
		ps := paths[r]
		more := ""
		if len(ps) > 5 {
			ps, more = ps[:5], fmt.Sprintf(" and %d more", len(paths[r])-5)
		}
		fmt.Fprintf(&b, "  skipped %d: %s (%s%s)\n", len(paths[r]), r, strings.Join(ps, ", "), more)
	}
	return b.String()
}

// UnusedError: an Azure export none of whose entries could be used. Nothing was written.
type UnusedError struct {
	File    string
	Shape   string
	Skipped []Problem
}

func (e *UnusedError) Error() string {
	if len(e.Skipped) == 0 {
		return fmt.Sprintf("%s: read as %s, it holds no entries: nothing to import", e.File, e.Shape)
	}
	return fmt.Sprintf("%s: none of its %s could be used (read as %s), nothing imported:\n%s",
		e.File, plural(len(e.Skipped), "entry", "entries"), e.Shape, strings.TrimRight(skipSummary(e.Skipped), "\n"))
}

func (e *UnusedError) Unwrap() error { return store.ErrInvalid }

// InvalidError lists every problem of a rejected file; nothing was written.
type InvalidError struct {
	File     string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s), nothing imported:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *InvalidError) Unwrap() error { return store.ErrInvalid }

var errDryRun = errors.New("dry run")

// Import applies an estate file in one transaction: a file with any problem changes nothing.
// Entities are upserted with history: the same values change nothing; other values close the
// stored version at AsOf and open a new one; explicit windows in the file win; an entity seen
// for the first time without a "from" is valid from the beginning of time. Lists present in
// the file are snapshots within the tenants they mention: subscriptions, principals, role
// assignments, delegations and management groups that the database has open in those tenants
// but the file lacks are closed at AsOf.
func Import(ctx context.Context, db *store.DB, r io.Reader, name string, opts Options) (*Report, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	asOf := opts.AsOf
	if asOf == 0 {
		asOf = now().UnixNano()
	}
	h := sha256.New()
	tee := io.TeeReader(r, h)
	if !opts.noBulk {
		// An estate with nothing stored yet (the first import) streams into the bulk loader.
		hashAll := func() (string, error) {
			if _, err := io.Copy(io.Discard, tee); err != nil {
				return "", fmt.Errorf("reading %s: %w", name, err)
			}
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		rep, err := bulkImport(ctx, db, tee, name, asOf, now, opts, hashAll)
		if !errors.Is(err, errNotEmpty) {
			return rep, err
		}
	}
	f, warnings, err := Decode(tee, name, opts.Strict)
	if err != nil {
		return nil, err
	}
	return importFile(ctx, db, f, warnings, name, hex.EncodeToString(h.Sum(nil)), asOf, now, opts)
}

func importFile(ctx context.Context, db *store.DB, f *File, warnings []Problem, name, hash string, asOf int64, now func() time.Time, opts Options) (*Report, error) {
	kind := opts.kind
	if kind == "" {
		kind = "estate"
	}
	ad := opts.adapter
	rep := &Report{DryRun: opts.DryRun, Warnings: warnings}
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		rep.Kinds = map[string]*Counts{}
		k, err := loadKnown(ctx, tx)
		if err != nil {
			return err
		}
		var read int
		if ad != nil {
			if f, err = ad.build(ctx, tx, k); err != nil {
				return err
			}
			read = len(ad.doc.entries)
		} else {
			read = entities(f)
		}
		p := build(f, k)
		if len(p.errs) > 0 {
			if ad != nil {
				ad.mapPaths(p.errs)
			}
			return &InvalidError{File: name, Problems: p.errs}
		}
		rep.NotStored = p.notStored
		// The import's ID is known before anything is written: snapshot closures name it.
		rep.ImportID = store.NewID()
		a := &applier{ctx: ctx, tx: tx, asOf: asOf, rep: rep, closeRule: opts.closeRule, ensureOnly: opts.ensureOnly,
			pg: db.Engine() == store.Postgres, importID: rep.ImportID, kind: kind, file: name}
		if err := a.apply(p); err != nil {
			return err
		}
		rejected := 0
		if ad != nil {
			if ad.after != nil {
				if err := ad.after(ctx, tx, rep); err != nil {
					return err
				}
			}
			rejected = len(ad.skipped)
		}
		if opts.DryRun {
			return errDryRun
		}
		summary, _ := json.Marshal(rep.Kinds)
		_, err = tx.ExecContext(ctx, `INSERT INTO imports (id, kind, file_name, file_hash, rows_read, rows_added, rows_rejected, summary, started_at, finished_at, status)
			VALUES ($1, $9, $2, $3, $4, $5, $10, $6, $7, $8, 'done')`,
			rep.ImportID, name, hash, int64(read), int64(a.written), string(summary), now().UnixNano(), now().UnixNano(), kind, int64(rejected))
		return err
	})
	if ad != nil {
		rep.Shape, rep.Entries, rep.Skipped, rep.Covers = ad.doc.shape, len(ad.doc.entries), ad.skipped, ad.covers
		rep.Used = rep.Entries - len(ad.skipped)
	}
	if errors.Is(err, errDryRun) {
		rep.ImportID = ""
		return rep, nil
	}
	var inv *InvalidError
	if errors.As(err, &inv) {
		return nil, inv
	}
	var unused *UnusedError
	if errors.As(err, &unused) {
		return nil, unused
	}
	if err != nil {
		return nil, db.Translate(err)
	}
	return rep, nil
}

// mapPaths rewrites the paths of problems in the file an adapter built (roleAssignments[3].from)
// to the export's ($.value[3].properties.createdOn).
func (ad *adapter) mapPaths(problems []Problem) {
	for i, p := range problems {
		end := strings.IndexByte(p.Path, ']')
		if end < 0 {
			continue
		}
		o, ok := ad.origins[p.Path[:end+1]]
		if !ok {
			continue
		}
		rest := p.Path[end+1:]
		if f, ok := o.fields[rest]; ok {
			rest = f
		}
		problems[i].Path = o.path + rest
		problems[i].Msg = elemRef.ReplaceAllStringFunc(p.Msg, func(elem string) string {
			if o, ok := ad.origins[elem]; ok {
				return o.path
			}
			return elem
		})
	}
}

func entities(f *File) int {
	n := len(f.Partners) + len(f.Tenants) + len(f.Subscriptions) + len(f.Principals) + len(f.RoleDefinitions) +
		len(f.RoleAssignments) + len(f.Delegations) + len(f.Links) + len(f.TrackingIDs) + len(f.Deployments) +
		len(f.Identifiers) + len(f.Accounts)
	return n
}

func loadKnown(ctx context.Context, q store.Querier) (*known, error) {
	k := &known{tenants: map[string]bool{}, mgs: map[string]bool{}, locations: map[string]string{},
		orgs: map[string][]string{}, roles: map[string]bool{}, tracking: map[string]bool{},
		orgNames: map[string]string{}, locNames: map[string]string{}}
	queries := []struct {
		sql string
		fn  func(a, b, c string)
	}{
		{`SELECT id, '', '' FROM tenants`, func(a, _, _ string) { k.tenants[a] = true }},
		{`SELECT tenant_id, id, '' FROM management_groups`, func(a, b, _ string) { k.mgs[a+"\x00"+b] = true }},
		{`SELECT id, name, '' FROM partner_orgs`, func(a, b, _ string) {
			if _, ok := k.orgs[a]; !ok {
				k.orgs[a] = nil
			}
			k.orgNames[a] = b
		}},
		{`SELECT id, org_id, name FROM partner_locations ORDER BY id`, func(a, b, c string) {
			k.locations[a] = b
			k.orgs[b] = append(k.orgs[b], a)
			k.locNames[a] = c
		}},
		{`SELECT tenant_id, object_id, type FROM principals ORDER BY valid_from`, func(a, b, c string) { k.principals.set(a, b, c) }},
		{`SELECT id, '', '' FROM role_definitions`, func(a, _, _ string) { k.roles[a] = true }},
		{`SELECT guid, '', '' FROM tracking_ids`, func(a, _, _ string) { k.tracking[a] = true }},
	}
	for _, qr := range queries {
		rows, err := q.QueryContext(ctx, qr.sql)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var a, b, c string
			if err := rows.Scan(&a, &b, &c); err != nil {
				rows.Close()
				return nil, err
			}
			qr.fn(a, b, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

type applier struct {
	// the import, which closures of role assignments name
	importID, kind, file string
	pg                   bool
	pending              [][]any // rows queued for the table being written
	closeRule            func(t *table, cols []string) bool
	ensureOnly           map[*table]bool
	ctx                  context.Context
	tx                   *sql.Tx
	asOf                 int64
	rep                  *Report
	written              int
}

// kindNames are the names used in reports, per table.
var kindNames = map[*table]string{
	tManagementGroups: "management groups", tSubscriptions: "subscriptions", tDPOR: "DPOR windows",
	tPrincipals: "principals", tMemberships: "group memberships", tRoleDefinitions: "role definitions",
	tAssignments: "role assignments", tActivations: "PIM activations", tDelegations: "delegations",
	tAuthorizations: "delegation authorizations", tLocationActive: "location status windows", tLinkSpans: "links",
}

func (a *applier) exec(q string, args ...any) error {
	_, err := a.tx.ExecContext(a.ctx, q, args...)
	return err
}

func (a *applier) apply(p *plan) error {
	if err := a.simple(p); err != nil {
		return err
	}
	for _, t := range versionedTables {
		changedLinks, err := a.versioned(t, p.versions[t], p.scopes[t])
		if err != nil {
			return fmt.Errorf("writing %s: %w", t.name, err)
		}
		if t == tLinkSpans {
			if err := a.currentLinks(changedLinks); err != nil {
				return err
			}
		}
	}
	return nil
}

// simple writes the tables without windows: organisations, locations, tenants, CUA.
func (a *applier) simple(p *plan) error {
	w := simpleWriter{ctx: a.ctx, q: a.tx, rep: a.rep, exec: func(q string, args ...any) (int64, error) {
		res, err := a.tx.ExecContext(a.ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}}
	if err := w.orgs(p.orgs); err != nil {
		return err
	}
	if err := w.tenants(p.tenants); err != nil {
		return err
	}
	if err := w.tracking(p.tracking); err != nil {
		return err
	}
	for _, d := range p.deploys {
		n, err := w.exec(`INSERT INTO deployments (resource_id, resource_key, tracking_guid, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			d.resourceID, resourceKey(d.resourceID), d.guid, d.at)
		if err != nil {
			return err
		}
		if n > 0 {
			w.rep.count("deployments").Created++
			w.written++
		}
	}
	a.written += w.written
	return nil
}

func resourceKey(id string) string { return strings.ToLower(strings.TrimRight(id, "/")) }

// simpleWriter upserts the tables without windows. It reads what is stored through q and
// writes through exec, so the same code serves a transaction (sql.Tx) and a bulk load
// (reads from the pool while the load holds the tables locked).
type simpleWriter struct {
	ctx     context.Context
	q       store.Querier
	exec    func(q string, args ...any) (int64, error)
	rep     *Report
	written int
}

func (w *simpleWriter) upsert(kind, table string, keyCols, valCols []string, rows [][]string) error {
	if len(rows) == 0 {
		return nil
	}
	existing := map[string]string{}
	cols := append(append([]string{}, keyCols...), valCols...)
	rs, err := w.q.QueryContext(w.ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table)
	if err != nil {
		return err
	}
	for rs.Next() {
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			rs.Close()
			return err
		}
		existing[strings.Join(vals[:len(keyCols)], "\x00")] = strings.Join(vals, "\x00")
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	set := make([]string, len(valCols))
	for i, c := range valCols {
		set[i] = c + " = excluded." + c
	}
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(ph, ", ") + `) ON CONFLICT (` + strings.Join(keyCols, ", ") + `) DO `
	if len(valCols) == 0 {
		q += `NOTHING`
	} else {
		q += `UPDATE SET ` + strings.Join(set, ", ")
	}
	for _, row := range rows {
		old, ok := existing[strings.Join(row[:len(keyCols)], "\x00")]
		switch {
		case !ok:
			w.rep.count(kind).Created++
		case old != strings.Join(row, "\x00"):
			w.rep.count(kind).Changed++
		default:
			continue
		}
		args := make([]any, len(row))
		for i, v := range row {
			args[i] = v
		}
		if _, err := w.exec(q, args...); err != nil {
			return err
		}
		w.written++
	}
	return nil
}

func (w *simpleWriter) orgs(list []orgRow) error {
	var orgs, orgTenants, locs [][]string
	for _, o := range list {
		orgs = append(orgs, []string{o.id, o.name})
		for _, t := range o.tenantIDs {
			orgTenants = append(orgTenants, []string{o.id, t})
		}
		for _, l := range o.locations {
			locs = append(locs, l[:])
		}
	}
	if err := w.upsert("partner organisations", "partner_orgs", []string{"id"}, []string{"name"}, orgs); err != nil {
		return err
	}
	if err := w.upsert("partner organisation tenants", "partner_org_tenants", []string{"org_id", "tenant_id"}, nil, orgTenants); err != nil {
		return err
	}
	return w.upsert("partner locations", "partner_locations", []string{"id"}, []string{"org_id", "name", "country"}, locs)
}

func (w *simpleWriter) tenants(list [][2]string) error {
	var rows [][]string
	for _, t := range list {
		rows = append(rows, t[:])
	}
	return w.upsert("tenants", "tenants", []string{"id"}, []string{"name"}, rows)
}

func (w *simpleWriter) tracking(list [][2]string) error {
	var rows [][]string
	for _, t := range list {
		rows = append(rows, t[:])
	}
	return w.upsert("tracking IDs", "tracking_ids", []string{"guid"}, []string{"location_id"}, rows)
}

func (a *applier) stored(t *table) (map[string][]version, error) { return a.storedFrom(a.tx, t) }

func (a *applier) storedFrom(q store.Querier, t *table) (map[string][]version, error) {
	cols := append(append([]string{}, t.keyCols...), t.valCols...)
	rows, err := q.QueryContext(a.ctx, `SELECT `+strings.Join(cols, ", ")+`, valid_from, valid_to FROM `+t.name+` ORDER BY valid_from`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]version{}
	for rows.Next() {
		v := version{cols: make([]string, len(cols))}
		ptrs := make([]any, len(cols)+2)
		for i := range v.cols {
			ptrs[i] = &v.cols[i]
		}
		ptrs[len(cols)], ptrs[len(cols)+1] = &v.from, &v.to
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		k := t.key(v.cols)
		out[k] = append(out[k], v)
	}
	return out, rows.Err()
}

// versioned writes one table's versions and returns the keys it changed.
func (a *applier) versioned(t *table, file map[string][]version, scopes map[string]bool) ([]string, error) {
	stored, err := a.stored(t)
	if err != nil {
		return nil, err
	}
	kind := kindNames[t]
	var changed []string
	keys := make([]string, 0, len(file))
	for k := range file {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		old := stored[k]
		if a.ensureOnly[t] && len(old) > 0 {
			continue
		}
		want := resolve(t, old, file[k], a.asOf)
		if sameVersions(old, want) {
			continue
		}
		switch {
		case len(old) == 0:
			a.rep.count(kind).Created++
		default:
			a.rep.count(kind).Changed++
		}
		if err := a.replace(t, k, want, len(old) > 0); err != nil {
			return nil, err
		}
		changed = append(changed, k)
	}
	// Snapshot: close what the file no longer lists, within the tenants it speaks about.
	var closed []string
	if !t.child && t.scopeCol >= 0 && (len(scopes) > 0 || a.closeRule != nil) {
		skeys := make([]string, 0, len(stored))
		for k := range stored {
			skeys = append(skeys, k)
		}
		sort.Strings(skeys)
		for _, k := range skeys {
			vs := stored[k]
			if _, listed := file[k]; listed {
				continue
			}
			last := vs[len(vs)-1]
			if last.to != timeline.Max {
				continue
			}
			if a.closeRule != nil && !a.closeRule(t, last.cols) || a.closeRule == nil && !scopes[last.cols[t.scopeCol]] {
				continue
			}
			want := append([]version(nil), vs[:len(vs)-1]...)
			if last.from < a.asOf {
				last.to = a.asOf
				want = append(want, last)
			}
			a.rep.count(kind).Closed++
			if err := a.replace(t, k, want, true); err != nil {
				return nil, err
			}
			changed = append(changed, k)
			if t == tAssignments && last.from < a.asOf {
				closed = append(closed, k)
			}
		}
	}
	if err := a.flush(t); err != nil {
		return nil, err
	}
	if t == tAssignments && len(changed) > 0 {
		return changed, a.recordClosures(closed)
	}
	return changed, nil
}

// recordClosures remembers which import closed the role assignments it closed as a snapshot
// (explain names it). A closure belongs to the version end it set: one whose version has
// since been rewritten with another end is dropped.
func (a *applier) recordClosures(ids []string) error {
	if err := a.exec(`DELETE FROM assignment_closures WHERE NOT EXISTS (SELECT 1 FROM role_assignments r
		WHERE r.id = assignment_closures.assignment_id AND r.valid_to = assignment_closures.closed_at)`); err != nil {
		return err
	}
	for _, id := range ids {
		if err := a.exec(`INSERT INTO assignment_closures (assignment_id, closed_at, import_id, source, file_name) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (assignment_id, closed_at) DO UPDATE SET import_id = excluded.import_id, source = excluded.source, file_name = excluded.file_name`,
			id, a.asOf, a.importID, a.kind, a.file); err != nil {
			return err
		}
	}
	return nil
}

// resolve computes the versions a key should have after the import.
func resolve(t *table, old, file []version, asOf int64) []version {
	if t.child || len(file) > 1 || len(old) == 0 {
		return file // explicit windows win; a new key is as the file says
	}
	f := file[0]
	out := append([]version(nil), old...)
	cur := -1
	for i, v := range out {
		if v.from <= asOf && asOf < v.to {
			cur = i
		}
	}
	same := func(v version) bool { return strings.Join(v.cols, "\x00") == strings.Join(f.cols, "\x00") }
	if cur >= 0 && same(out[cur]) {
		if f.fromSet && (cur == 0 || out[cur-1].to <= f.from) {
			out[cur].from = f.from
		}
		out[cur].to = f.to
		return dropEmpty(out)
	}
	start := asOf
	if f.fromSet && f.from > start {
		start = f.from
	}
	if cur >= 0 {
		if out[cur].from >= start {
			out = out[:cur]
		} else {
			out[cur].to = start
			out = out[:cur+1]
		}
	} else if last := out[len(out)-1]; last.to > start {
		start = last.to
	}
	out = append(out, version{cols: f.cols, from: start, to: f.to})
	return dropEmpty(out)
}

func dropEmpty(vs []version) []version {
	out := vs[:0]
	for _, v := range vs {
		if v.from < v.to {
			out = append(out, v)
		}
	}
	return out
}

func sameVersions(a, b []version) bool {
	if len(a) != len(b) {
		return false
	}
	sort.SliceStable(b, func(i, j int) bool {
		if b[i].from != b[j].from {
			return b[i].from < b[j].from
		}
		return strings.Join(b[i].cols, "\x00") < strings.Join(b[j].cols, "\x00")
	})
	sort.SliceStable(a, func(i, j int) bool {
		if a[i].from != a[j].from {
			return a[i].from < a[j].from
		}
		return strings.Join(a[i].cols, "\x00") < strings.Join(a[j].cols, "\x00")
	})
	for i := range a {
		if a[i].from != b[i].from || a[i].to != b[i].to || strings.Join(a[i].cols, "\x00") != strings.Join(b[i].cols, "\x00") {
			return false
		}
	}
	return true
}

// replace deletes the stored versions of key (when there are any) and queues want for a
// batched insert; flush writes the queue.
func (a *applier) replace(t *table, key string, want []version, hadOld bool) error {
	if hadOld {
		kv := strings.Split(key, "\x00")
		where := make([]string, len(t.keyCols))
		args := make([]any, len(kv))
		for i, c := range t.keyCols {
			where[i] = fmt.Sprintf("%s = $%d", c, i+1)
			args[i] = kv[i]
		}
		if err := a.exec(`DELETE FROM `+t.name+` WHERE `+strings.Join(where, " AND "), args...); err != nil {
			return err
		}
	}
	for _, v := range want {
		row := make([]any, 0, len(v.cols)+2)
		for _, c := range v.cols {
			row = append(row, c)
		}
		a.pending = append(a.pending, append(row, v.from, v.to))
		a.written++
	}
	if len(a.pending) >= 400 {
		return a.flush(t)
	}
	return nil
}

// flush inserts the queued rows of t with multi-row INSERTs: one statement per few hundred
// rows instead of one per row.
func (a *applier) flush(t *table) error {
	if len(a.pending) == 0 {
		return nil
	}
	cols := append(append(append([]string{}, t.keyCols...), t.valCols...), "valid_from", "valid_to")
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + t.name + ` (` + strings.Join(cols, ", ") + `) VALUES `)
	args := make([]any, 0, len(a.pending)*len(cols))
	n := 0
	for i, row := range a.pending {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			n++
			// SQLite reads $N as a named parameter (slow to bind by the thousand); PostgreSQL
			// wants $N.
			if a.pg {
				fmt.Fprintf(&b, "$%d", n)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
		args = append(args, row...)
	}
	a.pending = a.pending[:0]
	return a.exec(b.String(), args...)
}

// currentLinks keeps the ARM-visible link record in step with backfilled spans: an open span
// makes the principal's link Active at that location; none makes an active link Deleted. Each
// change is a history row by "import".
func (a *applier) currentLinks(keys []string) error {
	for _, k := range keys {
		kv := strings.Split(k, "\x00")
		tid, oid := kv[0], kv[1]
		var open string
		var openFrom int64
		err := a.tx.QueryRowContext(a.ctx, `SELECT location_id, valid_from FROM link_spans WHERE tenant_id = $1 AND object_id = $2 AND valid_to = $3`,
			tid, oid, timeline.Max).Scan(&open, &openFrom)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var loc, state string
		var version int64
		err = a.tx.QueryRowContext(a.ctx, `SELECT location_id, state, version FROM links WHERE tenant_id = $1 AND object_id = $2`, tid, oid).Scan(&loc, &state, &version)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var action, from, to, newState string
		switch {
		case open != "" && !exists:
			action, to, newState = "backfill", open, "Active"
		case open != "" && (state != "Active" || loc != open):
			action, from, to, newState = "backfill", loc, open, "Active"
		case open == "" && exists && state == "Active":
			action, from, to, newState = "backfill", loc, "", "Deleted"
		default:
			continue
		}
		version++
		created := openFrom
		if created == timeline.Min || created == 0 {
			created = a.asOf
		}
		if !exists {
			err = a.exec(`INSERT INTO links (tenant_id, object_id, location_id, version, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				tid, oid, to, version, newState, created, a.asOf)
		} else {
			target := to
			if target == "" {
				target = loc
			}
			err = a.exec(`UPDATE links SET location_id = $3, version = $4, state = $5, updated_at = $6 WHERE tenant_id = $1 AND object_id = $2`,
				tid, oid, target, version, newState, a.asOf)
		}
		if err != nil {
			return err
		}
		if err := a.exec(`INSERT INTO link_history (id, tenant_id, object_id, action, from_partner_id, to_partner_id, version, at, by_object_id, request_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'import', '')`, store.NewID(), tid, oid, action, from, to, version, a.asOf); err != nil {
			return err
		}
	}
	return nil
}
