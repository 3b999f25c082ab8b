package estatefile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/importlog"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/metrics"
	"github.com/partnerlink/partnerlink/internal/store"
	storetable "github.com/partnerlink/partnerlink/internal/store/table"
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
	build func(ctx context.Context, q store.Querier, k *known) (*File, error)
	// after runs once the file is applied (PIM activations), reading through q and writing
	// through ld, in the import's transaction.
	after   func(ctx context.Context, q store.Querier, ld store.Loader, rep *Report) error
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
func Import(ctx context.Context, db *store.DB, r io.Reader, name string, opts Options) (rep *Report, err error) {
	defer func(start time.Time) { metrics.ImportDone("estate", time.Since(start), err) }(time.Now())
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

func importFile(ctx context.Context, db *store.DB, f *File, warnings []Problem, name, hash string, asOf int64, now func() time.Time, opts Options) (_ *Report, importErr error) {
	kind := opts.kind
	if kind == "" {
		kind = "estate" // Import records the metric, for its bulk path too
	} else {
		defer func(start time.Time) { metrics.ImportDone(kind, time.Since(start), importErr) }(time.Now())
	}
	ad := opts.adapter
	rep := &Report{DryRun: opts.DryRun, Warnings: warnings}
	err := db.TxLoad(ctx, func(tx store.Querier, ld store.Loader) error {
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
		// The import's ID is known before anything is written: snapshot closures name it.
		rep.ImportID = store.NewID()
		a := &applier{ctx: ctx, q: tx, ld: ld, asOf: asOf, rep: rep, closeRule: opts.closeRule, ensureOnly: opts.ensureOnly,
			importID: rep.ImportID, kind: kind, file: name}
		if err := a.apply(p); err != nil {
			return err
		}
		rejected := 0
		if ad != nil {
			if ad.after != nil {
				if err := ad.after(ctx, tx, a.ld, rep); err != nil {
					return err
				}
			}
			rejected = len(ad.skipped)
		}
		if opts.DryRun {
			return errDryRun
		}
		summary, _ := json.Marshal(rep.Kinds)
		return importlog.Insert(ctx, a.ld, importlog.Import{ID: rep.ImportID, Kind: kind, FileName: name, FileHash: hash,
			RowsRead: int64(read), RowsAdded: int64(a.written), RowsRejected: int64(rejected), Summary: string(summary),
			StartedAt: now().UnixNano(), FinishedAt: now().UnixNano(), Status: importlog.Done})
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

// loadKnown reads what the file's references are checked against: the IDs stored by the
// owners of the directory, the estate and access.
func loadKnown(ctx context.Context, q store.Querier) (*known, error) {
	k := &known{tenants: map[string]bool{}, mgs: map[string]bool{}, locations: map[string]string{},
		orgs: map[string][]string{}, roles: map[string]bool{}, tracking: map[string]bool{},
		orgNames: map[string]string{}, locNames: map[string]string{}}
	reads := []struct {
		t  *storetable.Table
		fn func(cols []string)
	}{
		{estate.TenantsTable, func(c []string) { k.tenants[c[0]] = true }},
		{estate.ManagementGroupsTable, func(c []string) { k.mgs[c[0]+"\x00"+c[1]] = true }},
		{directory.OrgsTable, func(c []string) {
			if _, ok := k.orgs[c[0]]; !ok {
				k.orgs[c[0]] = nil
			}
			k.orgNames[c[0]] = c[1]
		}},
		{directory.LocationsTable, func(c []string) { // in the order of their IDs
			k.locations[c[0]] = c[1]
			k.orgs[c[1]] = append(k.orgs[c[1]], c[0])
			k.locNames[c[0]] = c[2]
		}},
		{estate.PrincipalsTable, func(c []string) { k.principals.set(c[0], c[1], c[2]) }}, // oldest version first
		{access.RoleDefinitionsTable, func(c []string) { k.roles[c[0]] = true }},
		{estate.TrackingIDsTable, func(c []string) { k.tracking[c[0]] = true }},
	}
	for _, r := range reads {
		if err := r.t.Rows(ctx, q, func(cols []string, _, _ int64) error { r.fn(cols); return nil }); err != nil {
			return nil, err
		}
	}
	return k, nil
}

type applier struct {
	// the import, which closures of role assignments name
	importID, kind, file string
	pending              [][]any // rows queued for the table being written
	closeRule            func(t *table, cols []string) bool
	ensureOnly           map[*table]bool
	ctx                  context.Context
	q                    store.Querier // reads, in the import's transaction
	ld                   store.Loader  // writes, in the same transaction
	asOf                 int64
	rep                  *Report
	written              int
	links                []link.Backfilled // principals whose link windows changed
}

// kindNames are the names used in reports, per table.
var kindNames = map[*table]string{
	tManagementGroups: "management groups", tSubscriptions: "subscriptions", tDPOR: "DPOR windows",
	tPrincipals: "principals", tMemberships: "group memberships", tRoleDefinitions: "role definitions",
	tAssignments: "role assignments", tActivations: "PIM activations", tDelegations: "delegations",
	tAuthorizations: "delegation authorizations", tLocationActive: "location status windows", tLinkSpans: "links",
	tIdentifiers: "partner identifiers", tResale: "account resale windows",
}

func (a *applier) apply(p *plan) error {
	if err := a.simple(p); err != nil {
		return err
	}
	for _, t := range versionedTables {
		if err := a.versioned(t, p.versions[t], p.scopes[t]); err != nil {
			return fmt.Errorf("writing %s: %w", t.Name, err)
		}
	}
	return link.Backfill(a.ctx, a.q, a.ld, a.asOf, a.links)
}

// simple writes the tables without windows: organisations, locations, tenants, CUA.
func (a *applier) simple(p *plan) error {
	w := simpleWriter{ctx: a.ctx, q: a.q, ld: a.ld, rep: a.rep}
	if err := w.orgs(p.orgs); err != nil {
		return err
	}
	if err := w.tenants(p.tenants); err != nil {
		return err
	}
	if err := w.tracking(p.tracking); err != nil {
		return err
	}
	if err := w.deployments(p.deploys); err != nil {
		return err
	}
	if err := w.upsert("accounts", account.AccountsTable, p.accountRows); err != nil {
		return err
	}
	a.written += w.written
	return nil
}

func resourceKey(id string) string { return strings.ToLower(strings.TrimRight(id, "/")) }

// simpleWriter upserts the tables without windows. It reads what is stored through q and
// writes through ld, so the same code serves a transaction (store.DB.TxLoad) and a bulk
// load (reads from the pool while the load holds the tables locked).
type simpleWriter struct {
	ctx     context.Context
	q       store.Querier
	ld      store.Loader
	rep     *Report
	written int
}

// upsert writes the rows (key and value columns of t, as text) that are new or differ from
// what is stored, counting them as created or changed.
func (w *simpleWriter) upsert(kind string, t *storetable.Table, rows [][]string) error {
	if len(rows) == 0 {
		return nil
	}
	existing := map[string]string{}
	err := t.Rows(w.ctx, w.q, func(vals []string, _, _ int64) error {
		existing[strings.Join(vals[:len(t.Key)], "\x00")] = strings.Join(vals, "\x00")
		return nil
	})
	if err != nil {
		return err
	}
	for _, row := range rows {
		old, ok := existing[strings.Join(row[:len(t.Key)], "\x00")]
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
		if err := t.Upsert(w.ctx, w.ld, args...); err != nil {
			return err
		}
		w.written++
	}
	return nil
}

// deployments inserts the deployments not stored yet.
func (w *simpleWriter) deployments(deploys []deployRow) error {
	rows := make([][]any, 0, len(deploys))
	for _, d := range deploys {
		rows = append(rows, []any{resourceKey(d.resourceID), d.guid, d.at, d.resourceID})
	}
	for start := 0; start < len(rows); start += bulkBatch {
		n, err := estate.DeploymentsTable.Insert(w.ctx, w.ld, rows[start:min(start+bulkBatch, len(rows))], true)
		if err != nil {
			return err
		}
		if n > 0 {
			w.rep.count("deployments").Created += int(n)
			w.written += int(n)
		}
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
	if err := w.upsert("partner organisations", directory.OrgsTable, orgs); err != nil {
		return err
	}
	if err := w.upsert("partner organisation tenants", directory.OrgTenantsTable, orgTenants); err != nil {
		return err
	}
	return w.upsert("partner locations", directory.LocationsTable, locs)
}

func (w *simpleWriter) tenants(list [][2]string) error {
	var rows [][]string
	for _, t := range list {
		rows = append(rows, t[:])
	}
	return w.upsert("tenants", estate.TenantsTable, rows)
}

func (w *simpleWriter) tracking(list [][2]string) error {
	var rows [][]string
	for _, t := range list {
		rows = append(rows, t[:])
	}
	return w.upsert("tracking IDs", estate.TrackingIDsTable, rows)
}

// stored reads t's versions by key, each key's in the order of their start.
func stored(ctx context.Context, q store.Querier, t *table) (map[string][]version, error) {
	out := map[string][]version{}
	err := t.Rows(ctx, q, func(cols []string, from, to int64) error {
		k := t.key(cols)
		out[k] = append(out[k], version{cols: cols, from: from, to: to})
		return nil
	})
	return out, err
}

// versioned writes one table's versions.
func (a *applier) versioned(t *table, file map[string][]version, scopes map[string]bool) error {
	stored, err := stored(a.ctx, a.q, t)
	if err != nil {
		return err
	}
	kind := kindNames[t]
	changed := false
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
			return err
		}
		changed = true
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
				return err
			}
			changed = true
			if t == tAssignments && last.from < a.asOf {
				closed = append(closed, k)
			}
		}
	}
	if err := a.flush(t); err != nil {
		return err
	}
	if t == tAssignments && changed {
		// explain names the import that closed an assignment as a snapshot.
		return access.RecordClosures(a.ctx, a.ld, a.importID, a.kind, a.file, a.asOf, closed)
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
// batched insert; flush writes the queue. For link windows it notes the principal for
// link.Backfill, with its open window.
func (a *applier) replace(t *table, key string, want []version, hadOld bool) error {
	if hadOld {
		if err := t.Delete(a.ctx, a.ld, strings.Split(key, "\x00")); err != nil {
			return err
		}
	}
	if t == tLinkSpans {
		b := link.Backfilled{}
		b.TenantID, b.ObjectID, _ = strings.Cut(key, "\x00")
		for _, v := range want {
			if v.to == timeline.Max {
				b.Open, b.OpenFrom = v.cols[2], v.from
			}
		}
		a.links = append(a.links, b)
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
	_, err := t.Insert(a.ctx, a.ld, a.pending, false)
	a.pending = a.pending[:0]
	return err
}
