package estatefile

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/account"
	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/link"
	"github.com/partnerlink/partnerlink/internal/scope"
	storetable "github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// A version is one row of a table with a validity window: its column values (key columns
// first) and where in the file it came from.
type version struct {
	cols           []string
	from, to       int64
	fromSet, toSet bool
	path           string
	// elem is the element (and list entry) index for principals, group memberships, role
	// assignments and PIM activations, so the bulk path can rebuild path without keeping a string per entity.
	elem [2]int32
}

// table is a table with windows as the import diffs it: its owner's description (name, key
// columns that identify an entity, value columns; a row is one version) and how a snapshot
// closes what it no longer lists.
type table struct {
	*storetable.Table
	// scopeCol is the column (an index into Key+Values) whose value limits a snapshot's
	// closing: entities missing from the file are closed only in the tenants the file speaks
	// about. -1: never close missing entities (upsert only).
	scopeCol int
	// child tables are replaced per parent (the key) by the file's list when it is non-empty.
	child bool
	// noun names an entity in overlap messages (default: the table's name).
	noun string
}

var (
	tManagementGroups = &table{Table: estate.ManagementGroupsTable, scopeCol: 0}
	tSubscriptions    = &table{Table: estate.SubscriptionsTable, scopeCol: 1}
	tPrincipals       = &table{Table: estate.PrincipalsTable, scopeCol: 0}
	tRoleDefinitions  = &table{Table: access.RoleDefinitionsTable, scopeCol: -1}
	tAssignments      = &table{Table: access.AssignmentsTable, scopeCol: 1}
	tDelegations      = &table{Table: access.DelegationsTable, scopeCol: 1}
	tDPOR             = &table{Table: estate.DPORTable, child: true}
	tMemberships      = &table{Table: estate.MembershipsTable, child: true}
	tActivations      = &table{Table: access.ActivationsTable, child: true}
	tAuthorizations   = &table{Table: access.AuthorizationsTable, child: true}
	tLocationActive   = &table{Table: directory.LocationActiveTable, child: true}
	tLinkSpans        = &table{Table: link.SpansTable, child: true}
	// Version 2: an identifier's versions name one location each and never overlap; an
	// account's resale windows are versions per location.
	tIdentifiers = &table{Table: directory.IdentifiersTable, child: true, noun: "identifier (scheme, value)"}
	tResale      = &table{Table: account.ResaleTable, child: true, noun: "account and reseller"}

	// versionedTables in the order they are written and exported.
	versionedTables = []*table{tManagementGroups, tSubscriptions, tDPOR, tPrincipals, tMemberships,
		tRoleDefinitions, tAssignments, tActivations, tDelegations, tAuthorizations, tLocationActive, tLinkSpans, tIdentifiers, tResale}
)

func (t *table) nounOr() string {
	if t.noun != "" {
		return t.noun
	}
	return t.Name
}

func (t *table) key(cols []string) string { return strings.Join(cols[:len(t.Key)], "\x00") }

// plan is what the file asks for, table by table, after validation.
type plan struct {
	versions map[*table]map[string][]version
	// scopes: per table, the values of scopeCol the file speaks about (tenants).
	scopes      map[*table]map[string]bool
	orgs        []orgRow
	tenants     [][2]string // id, name
	accountRows [][]string  // account.AccountsTable's columns
	tracking    [][2]string // guid, location
	deploys     []deployRow
	errs        []Problem
	// sink, when set, receives every version instead of versions/scopes (the streaming bulk
	// import of an empty estate: nothing stored to diff against, so versions go straight out).
	sink func(t *table, v version)
	// parsed keeps the assignment scopes parsed so far (valid ones, up to maxParsedScopes):
	// a million assignments name far fewer scopes, and their rows then share the strings.
	parsed map[string]scope.Scope
}

const maxParsedScopes = 1 << 16

// parseScope is scope.Parse, remembering valid scopes.
func (p *plan) parseScope(s string) (scope.Scope, error) {
	if sc, ok := p.parsed[s]; ok {
		return sc, nil
	}
	sc, err := scope.Parse(s)
	if err == nil && len(p.parsed) < maxParsedScopes {
		if p.parsed == nil {
			p.parsed = map[string]scope.Scope{}
		}
		p.parsed[s] = sc
	}
	return sc, err
}

type orgRow struct {
	id, name  string
	tenantIDs []string
	locations [][4]string // id, org, name, country
}

type deployRow struct {
	resourceID, guid string
	at               int64
}

func (p *plan) fail(path, format string, args ...any) {
	p.errs = append(p.errs, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *plan) add(t *table, v version) {
	if p.sink != nil {
		p.sink(t, v)
		return
	}
	if p.versions[t] == nil {
		p.versions[t] = map[string][]version{}
	}
	k := t.key(v.cols)
	p.versions[t][k] = append(p.versions[t][k], v)
	if t.scopeCol >= 0 {
		if p.scopes[t] == nil {
			p.scopes[t] = map[string]bool{}
		}
		p.scopes[t][v.cols[t.scopeCol]] = true
	}
}

// window reads an optional from/to pair; unset bounds are open.
func (p *plan) window(path string, from, to *string) (version, bool) {
	v, ok := p.windowAt(func(field string) string { return path + field }, from, to)
	v.path = path
	return v, ok
}

// windowAt is window for the entities there are millions of: the JSON path is only built
// for a problem (path(field) is the path of field, path("") the element's) or when no sink
// takes the versions (the bulk path finds an element's path from v.elem, see elemPath).
func (p *plan) windowAt(path func(field string) string, from, to *string) (version, bool) {
	v := version{from: timeline.Min, to: timeline.Max}
	ok := true
	if from != nil {
		t, err := parseInstant(*from)
		if err != nil {
			p.fail(path(".from"), "%v", err)
			ok = false
		}
		v.from, v.fromSet = t, true
	}
	if to != nil {
		t, err := parseInstant(*to)
		if err != nil {
			p.fail(path(".to"), "%v", err)
			ok = false
		}
		v.to, v.toSet = t, true
	}
	if ok && v.to <= v.from {
		p.fail(path(".to"), "%s is not after from %s; a window is [from, to) and must not be empty", *to, timeline.FormatBound(v.from))
		ok = false
	}
	if ok && p.sink == nil {
		v.path = path("")
	}
	return v, ok
}

// The instants partnerlink stores are Unix nanoseconds in an int64, which hold
// 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z; time.Time.UnixNano silently wraps outside
// that. Files are held to the whole days inside it, so that no time in a file can reach the
// open-end sentinels timeline.Min and timeline.Max either.
var (
	firstInstant = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	lastInstant  = time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
)

// parseInstant reads an RFC 3339 time (any offset) and checks that it can be stored.
func parseInstant(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an RFC 3339 time (want e.g. 2026-03-01T00:00:00Z)", s)
	}
	if t.Before(firstInstant) || t.After(lastInstant) {
		return 0, fmt.Errorf("%s is outside the range of times partnerlink stores, %s to %s (Unix nanoseconds in 64 bits); check the year",
			s, firstInstant.Format(time.RFC3339), lastInstant.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// known is what the database already holds, for checking references.
type known struct {
	tenants   map[string]bool
	mgs       map[string]bool   // tenant \x00 id
	locations map[string]string // location -> org
	orgs      map[string][]string
	// names of the stored organisations and locations, for messages about ID clashes
	orgNames, locNames map[string]string
	principals         principalTypes
	roles              map[string]bool
	tracking           map[string]bool
}

// principalTypes maps a principal (tenant and object GUIDs) to its type. Keys are the
// GUIDs' 32 bytes and values an index into the few type names, so the map holds no pointers:
// with half a million principals it costs a third of string keys and nothing to the GC.
// Only GUID pairs are kept: every lookup is made with checked GUIDs, so no other key could
// ever be found.
type principalTypes struct {
	m     map[[32]byte]uint8
	names []string
}

func guidBytes(dst []byte, s string) bool {
	if len(s) != 36 {
		return false
	}
	n := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
			continue
		}
		hi, ok1 := hexVal(s[i])
		lo, ok2 := hexVal(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[n] = hi<<4 | lo
		n++
		i++
	}
	return true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func principalKey(tenant, object string) ([32]byte, bool) {
	var k [32]byte
	return k, guidBytes(k[:16], tenant) && guidBytes(k[16:], object)
}

func (pt *principalTypes) set(tenant, object, typ string) {
	k, ok := principalKey(tenant, object)
	if !ok {
		return
	}
	if pt.m == nil {
		pt.m = map[[32]byte]uint8{}
	}
	i := slices.Index(pt.names, typ)
	if i < 0 {
		if len(pt.names) == 255 {
			return // cannot happen with valid types; an invalid one is rejected anyway
		}
		pt.names = append(pt.names, typ)
		i = len(pt.names) - 1
	}
	pt.m[k] = uint8(i)
}

func (pt *principalTypes) get(tenant, object string) (string, bool) {
	k, ok := principalKey(tenant, object)
	if !ok {
		return "", false
	}
	i, found := pt.m[k]
	if !found {
		return "", false
	}
	return pt.names[i], true
}

func lowerGUID(p *plan, path, what, s string) (string, bool) {
	return p.guidAt(func(string) string { return path }, "", what, s)
}

// guidAt is lowerGUID with the path built only for a problem (path(field)). strings.ToLower
// returns s itself when it has no upper case, so a GUID in lower case costs no copy.
func (p *plan) guidAt(path func(field string) string, field, what, s string) (string, bool) {
	if !scope.IsGUID(s) {
		p.fail(path(field), "%s %q is not a GUID (8-4-4-4-12 hex digits)", what, s)
		return "", false
	}
	return strings.ToLower(s), true
}

func newPlan() *plan {
	return &plan{versions: map[*table]map[string][]version{}, scopes: map[*table]map[string]bool{}}
}

// build validates the file against itself and the database and turns it into a plan.
func build(f *File, k *known) *plan {
	p := newPlan()
	// What the file defines is known to the rest of the file.
	p.partnerList(f.Partners, k)
	p.tenantList(f.Tenants, k)
	for i := range f.Principals {
		p.registerPrincipal(i, &f.Principals[i], k)
	}
	for i := range f.Principals {
		if tid, oid, ok := p.principal(i, &f.Principals[i], k); ok {
			p.memberships(i, tid, oid, f.Principals[i].MemberOf, k)
		}
	}
	p.roleDefinitions(f.RoleDefinitions, k)
	p.subscriptions(f.Subscriptions, k)
	for i := range f.RoleAssignments {
		p.assignment(i, &f.RoleAssignments[i], k)
	}
	p.delegations(f.Delegations, k)
	p.links(f.Links, k)
	p.trackingIDs(f.TrackingIDs, k)
	p.deployments(f.Deployments, k)
	p.identifiers(f.Identifiers, k)
	p.accounts(f.Accounts, k)
	p.checkOverlaps()
	return p
}

func (p *plan) partnerList(partners []Partner, k *known) {
	// One namespace of partner IDs: an ID names an organisation or a location, never both,
	// within the file and against what is stored (a link to an organisation ID that is also a
	// location would credit that location).
	fileOrgs := map[string]int{}
	fileLocs := map[string][2]int{}
	for i, o := range partners {
		if _, dup := fileOrgs[o.ID]; !dup && o.ID != "" {
			fileOrgs[o.ID] = i
		}
		for j, l := range o.Locations {
			if _, dup := fileLocs[l.ID]; !dup && l.ID != "" && l.ID != o.ID {
				fileLocs[l.ID] = [2]int{i, j}
			}
		}
	}
	const never = "an ID names an organisation or a location, never both"
	for i, o := range partners {
		path := fmt.Sprintf("partners[%d]", i)
		if o.ID == "" {
			p.fail(path+".id", "the organisation ID is empty")
			continue
		}
		if at, ok := fileLocs[o.ID]; ok {
			other := partners[at[0]]
			p.fail(path+".id", "organisation ID %q (%s) is also the ID of location %s (%s) of organisation %s (%s) at partners[%d].locations[%d]; %s",
				o.ID, o.Name, o.ID, other.Locations[at[1]].Name, other.ID, other.Name, at[0], at[1], never)
		} else if org, isLoc := k.locations[o.ID]; isLoc {
			p.fail(path+".id", "organisation ID %q (%s) is already the ID of location %s (%s) of organisation %s (%s); %s",
				o.ID, o.Name, o.ID, k.locNames[o.ID], org, k.orgNames[org], never)
		}
		row := orgRow{id: o.ID, name: o.Name}
		for j, t := range o.TenantIDs {
			if g, ok := lowerGUID(p, fmt.Sprintf("%s.tenantIds[%d]", path, j), "tenant ID", t); ok {
				row.tenantIDs = append(row.tenantIDs, g)
			}
		}
		var locs []string
		for j, l := range o.Locations {
			lp := fmt.Sprintf("%s.locations[%d]", path, j)
			if l.ID == "" {
				p.fail(lp+".id", "the location ID is empty")
				continue
			}
			if l.ID == o.ID {
				p.fail(lp+".id", "location ID %q equals its organisation's ID; locations need IDs of their own", l.ID)
			} else if oi, ok := fileOrgs[l.ID]; ok {
				p.fail(lp+".id", "location ID %q (%s) is also the ID of organisation %s (%s) at partners[%d]; %s",
					l.ID, l.Name, l.ID, partners[oi].Name, oi, never)
			} else if name, ok := k.orgNames[l.ID]; ok {
				p.fail(lp+".id", "location ID %q (%s) is already the ID of organisation %s (%s); %s", l.ID, l.Name, l.ID, name, never)
			}
			if org, ok := k.locations[l.ID]; ok && org != o.ID {
				p.fail(lp+".id", "location %q already belongs to organisation %q", l.ID, org)
			}
			k.locations[l.ID] = o.ID
			locs = append(locs, l.ID)
			row.locations = append(row.locations, [4]string{l.ID, o.ID, l.Name, l.Country})
			for m, a := range l.Active {
				if v, ok := p.window(fmt.Sprintf("%s.active[%d]", lp, m), a.From, a.To); ok {
					v.cols = []string{l.ID}
					p.add(tLocationActive, v)
				}
			}
		}
		k.orgs[o.ID] = locs
		p.orgs = append(p.orgs, row)
	}
}

func (p *plan) tenantList(tenants []Tenant, k *known) {
	for i, t := range tenants {
		path := fmt.Sprintf("tenants[%d]", i)
		id, ok := lowerGUID(p, path+".id", "tenant ID", t.ID)
		if !ok {
			continue
		}
		k.tenants[id] = true
		p.tenants = append(p.tenants, [2]string{id, t.Name})
		for j, mg := range t.ManagementGroups {
			if mg.ID != "" {
				k.mgs[id+"\x00"+strings.ToLower(mg.ID)] = true
			}
			_ = j
		}
	}
	for i, t := range tenants {
		id := strings.ToLower(t.ID)
		for j, mg := range t.ManagementGroups {
			path := fmt.Sprintf("tenants[%d].managementGroups[%d]", i, j)
			if mg.ID == "" {
				p.fail(path+".id", "the management group ID is empty")
				continue
			}
			parent := ""
			if mg.Parent != nil && *mg.Parent != "" {
				parent = strings.ToLower(*mg.Parent)
				if !k.mgs[id+"\x00"+parent] {
					p.fail(path+".parent", "management group %q names parent %q, which tenant %s does not have", mg.ID, *mg.Parent, id)
				}
			}
			if v, ok := p.window(path, mg.From, mg.To); ok {
				v.cols = []string{id, strings.ToLower(mg.ID), parent}
				p.add(tManagementGroups, v)
			}
		}
	}
}

func (p *plan) location(path, id, what string, k *known) bool {
	if _, ok := k.locations[id]; ok {
		return true
	}
	if locs, ok := k.orgs[id]; ok {
		p.fail(path, "%s %q is a partner organisation ID; use one of its location IDs (%s)", what, id, strings.Join(locs, ", "))
		return false
	}
	p.fail(path, "%s %q is not a known partner location; add it under partners[].locations", what, id)
	return false
}

func (p *plan) tenant(path, id string, k *known) (string, bool) {
	return p.tenantAt(func(field string) string { return path + field }, "", id, k)
}

// tenantAt is tenant with the path built only for a problem (path(field)).
func (p *plan) tenantAt(path func(field string) string, field, id string, k *known) (string, bool) {
	g, ok := p.guidAt(path, field, "tenant ID", id)
	if ok && !k.tenants[g] {
		p.fail(path(field), "tenant %s is not known; add it to tenants", g)
		return g, false
	}
	return g, ok
}

// registerPrincipal makes principal i known to the rest of the file (group memberships and
// assignments may name principals listed after them).
func (p *plan) registerPrincipal(i int, pr *Principal, k *known) {
	if g, ok := p.guidAt(principalPath(i), ".objectId", "object ID", pr.ObjectID); ok {
		k.principals.set(pr.TenantID, g, pr.Type)
	}
}

// principalPath and assignmentPath build the JSON paths of element i and its fields, only
// when a problem needs them.
func principalPath(i int) func(field string) string {
	return func(field string) string { return "principals[" + strconv.Itoa(i) + "]" + field }
}

func assignmentPath(i int) func(field string) string {
	return func(field string) string { return "roleAssignments[" + strconv.Itoa(i) + "]" + field }
}

// principal validates principal i and adds its version; memberships are checked separately
// once every principal of the file is registered.
func (p *plan) principal(i int, pr *Principal, k *known) (tid, oid string, ok bool) {
	path := principalPath(i)
	tid, ok1 := p.tenantAt(path, ".tenantId", pr.TenantID, k)
	oid, ok2 := p.guidAt(path, ".objectId", "object ID", pr.ObjectID)
	if !estate.PrincipalType(pr.Type).Valid() {
		p.fail(path(".type"), "type %q is not one of User, ServicePrincipal, Group, ForeignGroup", pr.Type)
		ok1 = false
	}
	home := ""
	if pr.HomeTenantID != "" {
		home, _ = p.guidAt(path, ".homeTenantId", "home tenant ID", pr.HomeTenantID)
	}
	if !ok1 || !ok2 {
		return "", "", false
	}
	if v, ok := p.windowAt(path, pr.From, pr.To); ok {
		v.cols = []string{tid, oid, pr.Type, pr.DisplayName, home}
		v.elem = [2]int32{int32(i), 0}
		p.add(tPrincipals, v)
	}
	return tid, oid, true
}

// memberships validates and adds the group memberships of principal i (tid, oid).
func (p *plan) memberships(i int, tid, oid string, ms []Membership, k *known) {
	for j, m := range ms {
		mp := func(field string) string { return fmt.Sprintf("principals[%d].memberOf[%d]", i, j) + field }
		gid, ok := p.guidAt(mp, ".groupId", "group ID", m.GroupID)
		if !ok {
			continue
		}
		if typ, found := k.principals.get(tid, gid); !found {
			p.fail(mp(".groupId"), "principal %s is a member of group %s, which is not a principal of tenant %s", oid, gid, tid)
			continue
		} else if !estate.PrincipalType(typ).IsGroup() {
			p.fail(mp(".groupId"), "principal %s is a member of %s, which is a %s, not a group", oid, gid, typ)
			continue
		}
		if v, ok := p.windowAt(mp, m.From, m.To); ok {
			v.cols = []string{tid, oid, gid}
			v.elem = [2]int32{int32(i), int32(j)}
			p.add(tMemberships, v)
		}
	}
}

func (p *plan) roleDefinitions(list []RoleDefinition, k *known) {
	for i, d := range list {
		path := fmt.Sprintf("roleDefinitions[%d]", i)
		id, ok := lowerGUID(p, path+".id", "role definition ID", d.ID)
		if !ok {
			continue
		}
		k.roles[id] = true
		if d.RoleName == "" {
			p.fail(path+".roleName", "role definition %s has no roleName", id)
			continue
		}
		typ := d.Type
		if typ == "" {
			typ = "CustomRole"
		}
		perms := d.Permissions
		if perms == nil {
			perms = []Permission{}
		}
		b, _ := json.Marshal(perms)
		if v, ok := p.window(path, d.From, d.To); ok {
			v.cols = []string{id, d.RoleName, typ, string(b)}
			p.add(tRoleDefinitions, v)
		}
	}
}

func (p *plan) subscriptions(list []Subscription, k *known) {
	for i, s := range list {
		path := fmt.Sprintf("subscriptions[%d]", i)
		id, ok1 := lowerGUID(p, path+".id", "subscription ID", s.ID)
		tid, ok2 := p.tenant(path+".tenantId", s.TenantID, k)
		ok := ok1 && ok2
		if !estate.Offer(s.Offer).Valid() {
			p.fail(path+".offer", "offer %q is not one of csp, ea, mca, payg", s.Offer)
			ok = false
		}
		mg := strings.ToLower(s.ManagementGroup)
		if mg != "" && !k.mgs[tid+"\x00"+mg] {
			p.fail(path+".managementGroup", "subscription %s names management group %q, which tenant %s does not have", id, s.ManagementGroup, tid)
			ok = false
		}
		switch {
		case s.Offer == "csp" && s.CSPPartnerID == "":
			p.fail(path+".cspPartnerId", "a csp subscription needs its reseller's location ID in cspPartnerId")
			ok = false
		case s.Offer != "csp" && s.CSPPartnerID != "":
			p.fail(path+".cspPartnerId", "only csp subscriptions have a reseller; remove cspPartnerId or set offer to csp")
			ok = false
		case s.CSPPartnerID != "" && !p.location(path+".cspPartnerId", s.CSPPartnerID, "reseller", k):
			ok = false
		}
		if !ok {
			continue
		}
		if v, okw := p.window(path, s.From, s.To); okw {
			v.cols = []string{id, tid, s.Name, s.Offer, mg, s.CSPPartnerID}
			p.add(tSubscriptions, v)
		}
		for j, d := range s.DPOR {
			dp := fmt.Sprintf("%s.dpor[%d]", path, j)
			if !p.location(dp+".partnerId", d.PartnerID, "DPOR partner", k) {
				continue
			}
			if v, ok := p.window(dp, d.From, d.To); ok {
				v.cols = []string{id, d.PartnerID}
				p.add(tDPOR, v)
			}
		}
	}
}

func (p *plan) assignment(i int, a *RoleAssignment, k *known) {
	path := assignmentPath(i)
	id, ok := p.guidAt(path, ".id", "assignment ID", a.ID)
	tid, okT := p.tenantAt(path, ".tenantId", a.TenantID, k)
	pid, okP := p.guidAt(path, ".principalId", "principal ID", a.PrincipalID)
	rid, okR := p.guidAt(path, ".roleDefinitionId", "role definition ID", a.RoleDefinitionID)
	ok = ok && okT && okP && okR
	if okT && okP {
		if _, found := k.principals.get(tid, pid); !found {
			p.fail(path(".principalId"), "assignment %s is for principal %s, which is not a principal of tenant %s; add it to principals", a.ID, pid, tid)
			ok = false
		}
	}
	if okR && !k.roles[rid] {
		p.fail(path(".roleDefinitionId"), "assignment %s uses role definition %s, which is not defined; add it to roleDefinitions or run import azure-role-definitions", a.ID, rid)
		ok = false
	}
	sc, err := p.parseScope(a.Scope)
	if err != nil {
		p.fail(path(".scope"), "%v", err)
		ok = false
	}
	if a.Kind != "active" && a.Kind != "eligible" {
		p.fail(path(".kind"), "kind %q is not active or eligible", a.Kind)
		ok = false
	}
	if a.Kind == "active" && len(a.Activations) > 0 {
		p.fail(path(".activations"), "only eligible (PIM) assignments have activations; an active assignment is in force for its whole window")
		ok = false
	}
	if !ok {
		return
	}
	if v, okw := p.windowAt(path, a.From, a.To); okw {
		v.cols = []string{id, tid, pid, rid, sc.Raw, sc.Key, a.Kind}
		v.elem = [2]int32{int32(i), 0}
		p.add(tAssignments, v)
	}
	for j, w := range a.Activations {
		ap := func(field string) string { return path(".activations[" + strconv.Itoa(j) + "]" + field) }
		if v, ok := p.windowAt(ap, w.From, w.To); ok {
			v.cols = []string{id}
			v.elem = [2]int32{int32(i), int32(j)}
			p.add(tActivations, v)
		}
	}
}

func (p *plan) delegations(list []Delegation, k *known) {
	for i, d := range list {
		path := fmt.Sprintf("delegations[%d]", i)
		id, ok := lowerGUID(p, path+".id", "delegation ID", d.ID)
		ct, okC := p.tenant(path+".customerTenantId", d.CustomerTenantID, k)
		mt, okM := lowerGUID(p, path+".managingTenantId", "managing tenant ID", d.ManagingTenantID)
		sc, err := scope.Parse(d.Scope)
		if err != nil {
			p.fail(path+".scope", "%v", err)
		} else if sc.Kind != scope.Subscription && sc.Kind != scope.ResourceGroup {
			p.fail(path+".scope", "Lighthouse delegates a subscription or a resource group, not a %s", sc.Kind)
			err = fmt.Errorf("kind")
		}
		if !ok || !okC || !okM || err != nil {
			continue
		}
		if v, okw := p.window(path, d.From, d.To); okw {
			v.cols = []string{id, ct, sc.Raw, sc.Key, mt}
			p.add(tDelegations, v)
		}
		for j, a := range d.Authorizations {
			ap := fmt.Sprintf("%s.authorizations[%d]", path, j)
			pid, okP := lowerGUID(p, ap+".principalId", "principal ID", a.PrincipalID)
			rid, okR := lowerGUID(p, ap+".roleDefinitionId", "role definition ID", a.RoleDefinitionID)
			if okR && !k.roles[rid] {
				p.fail(ap+".roleDefinitionId", "authorization of delegation %s uses role definition %s, which is not defined; add it to roleDefinitions", id, rid)
				okR = false
			}
			if !okP || !okR {
				continue
			}
			if v, ok := p.window(ap, a.From, a.To); ok {
				v.cols = []string{id, pid, rid}
				p.add(tAuthorizations, v)
			}
		}
	}
}

func (p *plan) links(list []Link, k *known) {
	for i, l := range list {
		path := fmt.Sprintf("links[%d]", i)
		tid, okT := lowerGUID(p, path+".tenantId", "tenant ID", l.TenantID)
		oid, okO := lowerGUID(p, path+".objectId", "object ID", l.ObjectID)
		okL := p.location(path+".partnerId", l.PartnerID, "link partner", k)
		if typ, found := k.principals.get(tid, oid); found && estate.PrincipalType(typ).IsGroup() {
			p.fail(path+".objectId", "principal %s is a group; groups cannot be linked, link its users or service principals", oid)
			okO = false
		}
		if !okT || !okO || !okL {
			continue
		}
		if v, ok := p.window(path, l.From, l.To); ok {
			v.cols = []string{tid, oid, l.PartnerID}
			p.add(tLinkSpans, v)
		}
	}
}

func (p *plan) trackingIDs(list []TrackingID, k *known) {
	for i, t := range list {
		path := fmt.Sprintf("trackingIds[%d]", i)
		g, ok := lowerGUID(p, path+".guid", "tracking GUID", t.GUID)
		if ok && p.location(path+".partnerId", t.PartnerID, "tracking ID partner", k) {
			k.tracking[g] = true
			p.tracking = append(p.tracking, [2]string{g, t.PartnerID})
		}
	}
}

func (p *plan) deployments(list []Deployment, k *known) {
	for i, d := range list {
		path := fmt.Sprintf("deployments[%d]", i)
		sc, err := scope.Parse(d.ResourceID)
		if err != nil {
			p.fail(path+".resourceId", "%v", err)
			continue
		}
		g, ok := lowerGUID(p, path+".trackingId", "tracking GUID", d.TrackingID)
		if ok && !k.tracking[g] {
			p.fail(path+".trackingId", "deployment of %s carries tracking ID %s, which is not registered; add it to trackingIds", d.ResourceID, g)
			continue
		}
		at, err := parseInstant(d.At)
		if err != nil {
			p.fail(path+".at", "%v", err)
			continue
		}
		if ok {
			p.deploys = append(p.deploys, deployRow{resourceID: sc.Raw, guid: g, at: at})
		}
	}
}

// overlapKey groups the versions whose windows must not overlap: all versions of an entity;
// for child lists, the entries with the same values (a principal may be in two groups at once,
// but not twice in one), except links and DPOR, of which there is one at a time.
func overlapKey(t *table, cols []string) string {
	if !t.child || t == tLinkSpans || t == tDPOR || t == tIdentifiers {
		return t.key(cols)
	}
	return strings.Join(cols, "\x00")
}

// span is a version's window and where in the file it came from, for overlap checks.
type span struct {
	from, to int64
	path     string
}

// overlapProblems reports, for one overlap group (in file order), each version that starts
// before the one before it (by start) ends: which one would hold?
func overlapProblems(t *table, vs []span) []Problem {
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].from < vs[j].from })
	var errs []Problem
	for i := 1; i < len(vs); i++ {
		a, b := vs[i-1], vs[i]
		if b.from < a.to {
			errs = append(errs, problemf(b.path, "its window [%s, %s) overlaps %s's [%s, %s) for the same %s; close one before the other starts",
				timeline.FormatBound(b.from), timeline.FormatBound(b.to), a.path, timeline.FormatBound(a.from), timeline.FormatBound(a.to), t.nounOr()))
		}
	}
	return errs
}

// checkOverlaps rejects two versions of one key whose windows overlap.
func (p *plan) checkOverlaps() {
	var errs []Problem
	for t, byKey := range p.versions {
		for _, vs := range byKey {
			if len(vs) < 2 {
				continue
			}
			groups := map[string][]span{}
			var order []string
			for _, v := range vs {
				k := overlapKey(t, v.cols)
				if _, ok := groups[k]; !ok {
					order = append(order, k)
				}
				groups[k] = append(groups[k], span{v.from, v.to, v.path})
			}
			for _, k := range order {
				errs = append(errs, overlapProblems(t, groups[k])...)
			}
			// Keep the versions sorted by start, as the appliers expect.
			sort.SliceStable(vs, func(i, j int) bool { return vs[i].from < vs[j].from })
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	p.errs = append(p.errs, errs...)
}

func problemf(path, format string, args ...any) Problem {
	return Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
}
