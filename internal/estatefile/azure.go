package estatefile

import (
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/access"
	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Adapters for the files Azure's tools print (docs/estate.md, "Azure exports"). Each reads
// its export in whatever shape it comes (azdoc.go), turns the entries it can use into an
// estate file and applies that with the estate file's validation, history and all-or-nothing
// rules. An entry it cannot use is skipped with its path and reason, and reported; an export
// of which no entry could be used is an error (UnusedError). A malformed entry (a missing or
// mistyped field, a bad time, an unknown reference) fails the whole import, as in an estate
// file.

func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}

func clock(opts Options) (func() time.Time, int64) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	asOf := opts.AsOf
	if asOf == 0 {
		asOf = now().UnixNano()
	}
	return now, asOf
}

// rel is the path of one of the entry's own fields relative to the entry.
func (e *azEntry) rel(name string) string { return strings.TrimPrefix(e.field(name), e.path) }

func (ad *adapter) skip(e *azEntry, reason string) {
	ad.skipped = append(ad.skipped, Problem{Path: e.path, Msg: reason})
}

func (ad *adapter) from(elem string, e *azEntry, fields map[string]string) {
	ad.origins[elem] = origin{path: e.path, fields: fields}
}

// elemRef finds the built file's element paths that messages quote (overlaps name the other
// version), so that they can be rewritten too.
var elemRef = regexp.MustCompile(`(roleAssignments|roleDefinitions|principals|links)\[\d+\]`)

// otherType is the reason for skipping an entry of another resource type.
func otherType(typ, want string) string {
	reason := fmt.Sprintf("type %s is not %s", typ, want)
	if strings.Contains(strings.ToLower(typ), "scheduleinstances") {
		reason += "; import PIM schedule instances with import azure-pim"
	}
	return reason
}

// tenantFor checks the --tenant an adapter was given against the estate.
func tenantFor(name, tenantID string, k *known) (string, error) {
	if !scope.IsGUID(tenantID) {
		return "", &InvalidError{File: name, Problems: []Problem{{Path: "--tenant", Msg: fmt.Sprintf("tenant %q is not a GUID", tenantID)}}}
	}
	tid := strings.ToLower(tenantID)
	if !k.tenants[tid] {
		return "", &InvalidError{File: name, Problems: []Problem{{Path: "--tenant", Msg: fmt.Sprintf("tenant %s is not in the estate; import the estate file that holds it first", tid)}}}
	}
	return tid, nil
}

// principals decides how the principals an export names enter the estate: a principal the
// estate knows is used as it is; an unknown one is created with the type the export gives
// (any entry of the file), when it is one of the four the model has.
type principals struct {
	k       *known
	tid     string
	types   map[string]string // lower-case object ID -> type named by some entry
	created map[string]bool
}

func newPrincipals(k *known, tid string) *principals {
	return &principals{k: k, tid: tid, types: map[string]string{}, created: map[string]bool{}}
}

func validPrincipalType(t string) bool {
	return t == "User" || t == "Group" || t == "ServicePrincipal" || t == "ForeignGroup"
}

func (ps *principals) note(oid, typ string) {
	if validPrincipalType(typ) {
		ps.types[strings.ToLower(oid)] = typ
	}
}

// use returns the type of a principal to create ("" when none is needed) or why the entry
// cannot be used.
func (ps *principals) use(oid, typ string) (create, reason string) {
	oid = strings.ToLower(oid)
	if _, known := ps.k.principals.get(ps.tid, oid); known || ps.created[oid] {
		return "", ""
	}
	if t, ok := ps.types[oid]; ok {
		ps.created[oid] = true
		return t, ""
	}
	if typ == "" || typ == "Unknown" {
		return "", "the principal is not in the estate and no entry names its type (Azure lists the assignments of deleted identities " +
			"with principalType Unknown); add the principal to the estate file's principals if it still exists"
	}
	return "", fmt.Sprintf("principalType %s is none of User, Group, ServicePrincipal, ForeignGroup, and the principal is not in the estate", typ)
}

// coverage is what a snapshot covers: the whole tenant, or the assignments at or below some
// scopes (ARM-ID prefixes on segment boundaries).
type coverage struct {
	tenant   bool
	prefixes []string
	desc     []string
}

// snapshotCoverage: the scopes given (--scope; "/" is the whole tenant), else those the file
// shows, that is every subscription it names (with all below it), plus, always, the
// management group and root scopes it names, exactly: a listing shows every assignment of a
// scope above what it lists, since they all apply there.
func snapshotCoverage(given []string, listed []string) (*coverage, error) {
	c := &coverage{}
	seen := map[string]bool{}
	add := func(key, why string) {
		if !seen[key] {
			seen[key] = true
			c.prefixes = append(c.prefixes, key)
			c.desc = append(c.desc, key+why)
		}
	}
	for _, g := range given {
		sc, err := scope.Parse(g)
		if err != nil {
			return nil, fmt.Errorf("--scope: %w", err)
		}
		if sc.Key == "/" {
			c.tenant = true
			continue
		}
		add(sc.Key, " (--scope)")
	}
	for _, l := range listed {
		sc, err := scope.Parse(l)
		if err != nil {
			continue // the entry's own problem is reported by the estate checks
		}
		switch {
		case sc.Subscription == "":
			add(sc.Key, " (listed)")
		case len(given) == 0:
			add("/subscriptions/"+sc.Subscription, " (from the file)")
		}
	}
	sort.Strings(c.desc)
	if c.tenant {
		c.desc = []string{"the whole tenant (--scope /)"}
	}
	return c, nil
}

func (c *coverage) covers(scopeKey string) bool {
	if c.tenant {
		return true
	}
	for _, p := range c.prefixes {
		if scope.PrefixCovers(p, scopeKey) {
			return true
		}
	}
	return false
}

// incomplete refuses a snapshot whose listing goes on beyond the file: it would close the
// assignments of the pages that are missing.
func incomplete(doc *azDoc) error {
	if doc.continues == "" {
		return nil
	}
	return fmt.Errorf("%s: %s names a next page, and no page in the file is the last: the listing is incomplete, and as a snapshot "+
		"it would close the assignments on the missing pages; fetch every page (az rest --url <nextLink>) and give them as one list [page1, page2, ...]",
		doc.name, doc.continues)
}

type azAssignment struct {
	PrincipalID      string  `json:"principalId"`
	PrincipalType    string  `json:"principalType"`
	RoleDefinitionID string  `json:"roleDefinitionId"`
	Scope            string  `json:"scope"`
	CreatedOn        *string `json:"createdOn"`
}

// ImportAzureRoleAssignments reads role assignments as `az role assignment list` prints them
// or as the REST API lists them, for one tenant. It is a snapshot of active assignments:
// open active assignments of the tenant in the scopes it covers (snapshotCoverage) that it
// lacks are closed at AsOf. It never lists eligible (PIM) assignments, so it never closes
// them. Principals it names are created if unknown (type from principalType).
func ImportAzureRoleAssignments(ctx context.Context, db *store.DB, r io.Reader, name, tenantID string, opts Options) (*Report, error) {
	doc, err := readAzure(r, name)
	if err != nil {
		return nil, err
	}
	if err := incomplete(doc); err != nil {
		return nil, err
	}
	now, asOf := clock(opts)
	var tid string
	var cov *coverage
	ad := &adapter{doc: doc}
	ad.build = func(ctx context.Context, q store.Querier, k *known) (*File, error) {
		ad.skipped, ad.origins = nil, map[string]origin{}
		if tid, err = tenantFor(name, tenantID, k); err != nil {
			return nil, err
		}
		f := &File{}
		var problems []Problem
		var listed []string
		type use struct {
			e   *azEntry
			a   azAssignment
			top azTop
		}
		var uses []use
		ps := newPrincipals(k, tid)
		for i := range doc.entries {
			e := &doc.entries[i]
			top := e.top()
			if top.Type != "" && !strings.EqualFold(top.Type, "Microsoft.Authorization/roleAssignments") {
				ad.skip(e, otherType(top.Type, "a role assignment (Microsoft.Authorization/roleAssignments)"))
				continue
			}
			var a azAssignment
			if p := e.decode(&a); p != nil {
				problems = append(problems, *p)
				continue
			}
			ps.note(a.PrincipalID, a.PrincipalType)
			uses = append(uses, use{e, a, top})
		}
		for _, u := range uses {
			e, a := u.e, u.a
			typ, reason := ps.use(a.PrincipalID, a.PrincipalType)
			if reason != "" {
				ad.skip(e, reason)
				continue
			}
			id, idField := u.top.Name, ".name"
			if !scope.IsGUID(id) {
				id, idField = lastSegment(u.top.ID), ".id"
			}
			ad.from(fmt.Sprintf("roleAssignments[%d]", len(f.RoleAssignments)), e, map[string]string{".id": idField, ".principalId": e.rel("principalId"),
				".roleDefinitionId": e.rel("roleDefinitionId"), ".scope": e.rel("scope"), ".from": e.rel("createdOn"), ".tenantId": " (--tenant)"})
			f.RoleAssignments = append(f.RoleAssignments, RoleAssignment{ID: id, TenantID: tid, PrincipalID: a.PrincipalID,
				RoleDefinitionID: lastSegment(a.RoleDefinitionID), Scope: a.Scope, Kind: "active", From: a.CreatedOn})
			listed = append(listed, a.Scope)
			if typ != "" {
				ad.from(fmt.Sprintf("principals[%d]", len(f.Principals)), e, map[string]string{".objectId": e.rel("principalId"), ".type": e.rel("principalType")})
				f.Principals = append(f.Principals, Principal{TenantID: tid, ObjectID: a.PrincipalID, Type: typ})
			}
		}
		if len(problems) > 0 {
			return nil, &InvalidError{File: name, Problems: problems}
		}
		// An empty listing of given scopes says they have no assignments any more.
		if len(f.RoleAssignments) == 0 && (len(doc.entries) > 0 || len(opts.Scopes) == 0) {
			return nil, &UnusedError{File: name, Shape: doc.shape, Skipped: ad.skipped}
		}
		if cov, err = snapshotCoverage(opts.Scopes, listed); err != nil {
			return nil, err
		}
		ad.covers = cov.desc
		return f, nil
	}
	opts.kind = "azure-role-assignments"
	opts.adapter = ad
	opts.ensureOnly = map[*table]bool{tPrincipals: true}
	opts.closeRule = func(t *table, cols []string) bool {
		return t == tAssignments && cols[1] == tid && cols[6] == "active" && cov.covers(cols[5])
	}
	return importFile(ctx, db, nil, nil, name, doc.hash, asOf, now, opts)
}

type azRoleDefinition struct {
	RoleName    string       `json:"roleName"`
	RoleType    string       `json:"roleType"`
	Type        string       `json:"type"`
	Permissions []Permission `json:"permissions"`
}

// ImportAzureRoleDefinitions reads role definitions (built-in and custom) as
// `az role definition list` prints them or as the REST API lists them.
func ImportAzureRoleDefinitions(ctx context.Context, db *store.DB, r io.Reader, name string, opts Options) (*Report, error) {
	doc, err := readAzure(r, name)
	if err != nil {
		return nil, err
	}
	now, asOf := clock(opts)
	ad := &adapter{doc: doc}
	ad.build = func(ctx context.Context, q store.Querier, k *known) (*File, error) {
		ad.skipped, ad.origins = nil, map[string]origin{}
		f := &File{}
		var problems []Problem
		for i := range doc.entries {
			e := &doc.entries[i]
			top := e.top()
			if top.Type != "" && !strings.EqualFold(top.Type, "Microsoft.Authorization/roleDefinitions") {
				ad.skip(e, otherType(top.Type, "a role definition (Microsoft.Authorization/roleDefinitions)"))
				continue
			}
			var d azRoleDefinition
			if p := e.decode(&d); p != nil {
				problems = append(problems, *p)
				continue
			}
			// az prints the role's type as roleType; under properties it is type.
			typ, typField := d.RoleType, e.rel("roleType")
			if e.props != nil {
				typ, typField = d.Type, e.rel("type")
			}
			id, idField := top.Name, ".name"
			if !scope.IsGUID(id) {
				id, idField = lastSegment(top.ID), ".id"
			}
			ad.from(fmt.Sprintf("roleDefinitions[%d]", len(f.RoleDefinitions)), e, map[string]string{".id": idField, ".roleName": e.rel("roleName"), ".type": typField})
			f.RoleDefinitions = append(f.RoleDefinitions, RoleDefinition{ID: id, RoleName: d.RoleName, Type: typ, Permissions: d.Permissions})
		}
		if len(problems) > 0 {
			return nil, &InvalidError{File: name, Problems: problems}
		}
		if len(f.RoleDefinitions) == 0 {
			return nil, &UnusedError{File: name, Shape: doc.shape, Skipped: ad.skipped}
		}
		return f, nil
	}
	opts.kind = "azure-role-definitions"
	opts.adapter = ad
	return importFile(ctx, db, nil, nil, name, doc.hash, asOf, now, opts)
}

// azInstance is a PIM schedule instance in any of its shapes: ARM (fields under
// properties, scope) or Microsoft Graph (flat, directoryScopeId).
type azInstance struct {
	PrincipalID               string  `json:"principalId"`
	PrincipalType             string  `json:"principalType"`
	RoleDefinitionID          string  `json:"roleDefinitionId"`
	Scope                     *string `json:"scope"`
	DirectoryScopeID          *string `json:"directoryScopeId"`
	AppScopeID                *string `json:"appScopeId"`
	StartDateTime             *string `json:"startDateTime"`
	EndDateTime               *string `json:"endDateTime"`
	AssignmentType            *string `json:"assignmentType"`
	RoleEligibilityScheduleID *string `json:"roleEligibilityScheduleId"`
}

// scope returns the instance's scope and the name of the field it came from, or why the
// entry is not about an Azure scope.
func (in *azInstance) scope() (s, field, skip string) {
	if in.Scope != nil {
		return *in.Scope, "scope", ""
	}
	if in.AppScopeID != nil && *in.AppScopeID != "" {
		return "", "", "appScopeId is set: the role applies within an application, not to Azure resources"
	}
	if in.DirectoryScopeID == nil {
		return "", "scope", ""
	}
	d := *in.DirectoryScopeID
	if d != "/" && !strings.HasPrefix(strings.ToLower(d), "/subscriptions/") && !strings.HasPrefix(strings.ToLower(d), "/providers/") {
		return "", "", fmt.Sprintf("directoryScopeId %s is a Microsoft Entra scope (an administrative unit or a directory object), not an Azure scope", d)
	}
	return d, "directoryScopeId", ""
}

// derivedGUID is a name-based GUID (RFC 4122 version 5 layout, SHA-1) for an eligible
// assignment whose export gives none: the same parts always give the same GUID.
func derivedGUID(parts ...string) string {
	sum := sha1.Sum([]byte("partnerlink eligible assignment\x00" + strings.Join(parts, "\x00")))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

type activation struct {
	e                          *azEntry
	principal, role, scopeKey  string
	rawPrincipal, rawRole, raw string
	from, to                   int64
}

// ImportAzurePIM reads PIM schedule instances, ARM (roleEligibilityScheduleInstances,
// roleAssignmentScheduleInstances) or Microsoft Graph, of one tenant; one file may hold both.
//   - Eligibility instances are a snapshot of eligible assignments: each becomes the eligible
//     assignment of its principal, role and scope with the instance's window, and open
//     eligible assignments of the scopes covered (snapshotCoverage) that the file lacks are
//     closed at AsOf. Active assignments are never closed by it.
//   - Assignment instances with assignmentType Activated become activation windows of the
//     eligible assignment with the same principal, role and scope (stored activations are
//     kept: PIM lists current instances only). An activation without one is an error.
//   - Assignment instances with assignmentType Assigned are active assignments, which
//     `az role assignment list` lists: they are skipped, with that reason.
func ImportAzurePIM(ctx context.Context, db *store.DB, r io.Reader, name, tenantID string, opts Options) (*Report, error) {
	doc, err := readAzure(r, name)
	if err != nil {
		return nil, err
	}
	now, asOf := clock(opts)
	var tid string
	var cov *coverage
	var acts []activation
	ad := &adapter{doc: doc}
	ad.build = func(ctx context.Context, q store.Querier, k *known) (*File, error) {
		ad.skipped, ad.origins, acts = nil, map[string]origin{}, nil
		if tid, err = tenantFor(name, tenantID, k); err != nil {
			return nil, err
		}
		stored, err := eligibleByTriple(ctx, q, tid)
		if err != nil {
			return nil, err
		}
		f := &File{}
		var problems []Problem
		var listed []string
		type use struct {
			e         *azEntry
			in        azInstance
			top       azTop
			sc, field string
		}
		var eligible []use
		ps := newPrincipals(k, tid)
		for i := range doc.entries {
			e := &doc.entries[i]
			top := e.top()
			var in azInstance
			if p := e.decode(&in); p != nil {
				problems = append(problems, *p)
				continue
			}
			isEligibility := false
			switch t := strings.ToLower(top.Type); {
			case strings.HasSuffix(t, "/roleeligibilityscheduleinstances"):
				isEligibility = true
			case strings.HasSuffix(t, "/roleassignmentscheduleinstances"):
			case t != "":
				ad.skip(e, fmt.Sprintf("type %s is not a PIM schedule instance (roleAssignmentScheduleInstances or roleEligibilityScheduleInstances)", top.Type))
				continue
			case in.AssignmentType != nil:
			case in.RoleEligibilityScheduleID != nil:
				isEligibility = true
			default:
				ad.skip(e, "nothing says what this entry is: no type, no assignmentType (assignment schedule instances) and no roleEligibilityScheduleId (eligibility schedule instances)")
				continue
			}
			if !isEligibility {
				switch at := ""; {
				case in.AssignmentType != nil && strings.EqualFold(*in.AssignmentType, "Activated"):
				case in.AssignmentType != nil && strings.EqualFold(*in.AssignmentType, "Assigned"):
					ad.skip(e, "assignmentType Assigned: an active assignment, which `az role assignment list` lists; import it with import azure-role-assignments")
					continue
				default:
					if in.AssignmentType != nil {
						at = *in.AssignmentType
					}
					ad.skip(e, fmt.Sprintf("assignmentType %q is neither Activated (an activation) nor Assigned (an active assignment)", at))
					continue
				}
			}
			sc, field, skip := in.scope()
			if skip != "" {
				ad.skip(e, skip)
				continue
			}
			if isEligibility {
				ps.note(in.PrincipalID, in.PrincipalType)
				eligible = append(eligible, use{e, in, top, sc, field})
				continue
			}
			// An activation: checked here, matched to its eligible assignment once the
			// file's eligibility instances are applied.
			a := activation{e: e, rawPrincipal: in.PrincipalID, rawRole: in.RoleDefinitionID, raw: sc,
				principal: strings.ToLower(in.PrincipalID), role: strings.ToLower(lastSegment(in.RoleDefinitionID))}
			ok := true
			if _, err := scope.Parse(sc); err != nil {
				problems = append(problems, Problem{Path: e.field(field), Msg: err.Error()})
				ok = false
			}
			a.scopeKey = scope.Key(sc)
			if in.StartDateTime == nil || in.EndDateTime == nil {
				problems = append(problems, Problem{Path: e.path, Msg: "an activation needs its startDateTime and endDateTime"})
				continue
			}
			from, err1 := parseInstant(*in.StartDateTime)
			to, err2 := parseInstant(*in.EndDateTime)
			for _, p := range []struct {
				err   error
				field string
			}{{err1, "startDateTime"}, {err2, "endDateTime"}} {
				if p.err != nil {
					problems = append(problems, Problem{Path: e.field(p.field), Msg: p.err.Error()})
					ok = false
				}
			}
			if ok && to <= from {
				problems = append(problems, Problem{Path: e.field("endDateTime"), Msg: fmt.Sprintf("%s is not after startDateTime %s", *in.EndDateTime, *in.StartDateTime)})
				ok = false
			}
			if ok {
				a.from, a.to = from, to
				acts = append(acts, a)
			}
		}
		// Eligibility instances: one eligible assignment per principal, role and scope, with
		// the ID it has in the estate, else its schedule's, else one derived from the three.
		ids := map[string]string{}
		for _, u := range eligible {
			e, in := u.e, u.in
			typ, reason := ps.use(in.PrincipalID, in.PrincipalType)
			if reason != "" {
				ad.skip(e, reason)
				continue
			}
			role := lastSegment(in.RoleDefinitionID)
			triple := strings.ToLower(in.PrincipalID) + "\x00" + strings.ToLower(role) + "\x00" + scope.Key(u.sc)
			id, ok := ids[triple]
			if !ok {
				switch {
				case stored[triple] != "":
					id = stored[triple]
				case in.RoleEligibilityScheduleID != nil && scope.IsGUID(lastSegment(*in.RoleEligibilityScheduleID)):
					id = lastSegment(*in.RoleEligibilityScheduleID)
				case scope.IsGUID(u.top.Name):
					id = u.top.Name
				default:
					id = derivedGUID(tid, triple)
				}
				ids[triple] = id
			}
			if in.StartDateTime == nil {
				problems = append(problems, Problem{Path: e.field("startDateTime"), Msg: "an eligibility instance needs its startDateTime"})
				continue
			}
			ad.from(fmt.Sprintf("roleAssignments[%d]", len(f.RoleAssignments)), e, map[string]string{".principalId": e.rel("principalId"),
				".roleDefinitionId": e.rel("roleDefinitionId"), ".scope": e.rel(u.field), ".from": e.rel("startDateTime"), ".to": e.rel("endDateTime")})
			f.RoleAssignments = append(f.RoleAssignments, RoleAssignment{ID: id, TenantID: tid, PrincipalID: in.PrincipalID,
				RoleDefinitionID: role, Scope: u.sc, Kind: "eligible", From: in.StartDateTime, To: in.EndDateTime})
			listed = append(listed, u.sc)
			if typ != "" {
				ad.from(fmt.Sprintf("principals[%d]", len(f.Principals)), e, map[string]string{".objectId": e.rel("principalId"), ".type": e.rel("principalType")})
				f.Principals = append(f.Principals, Principal{TenantID: tid, ObjectID: in.PrincipalID, Type: typ})
			}
		}
		if len(problems) > 0 {
			return nil, &InvalidError{File: name, Problems: problems}
		}
		if len(f.RoleAssignments) == 0 && len(acts) == 0 {
			return nil, &UnusedError{File: name, Shape: doc.shape, Skipped: ad.skipped}
		}
		cov = &coverage{}
		if len(f.RoleAssignments) > 0 {
			// Only a file of eligibility instances is a snapshot of eligible assignments.
			if err := incomplete(doc); err != nil {
				return nil, err
			}
			if cov, err = snapshotCoverage(opts.Scopes, listed); err != nil {
				return nil, err
			}
			ad.covers = cov.desc
		}
		return f, nil
	}
	ad.after = func(ctx context.Context, q store.Querier, ld store.Loader, rep *Report) error {
		return addActivations(ctx, q, ld, name, tid, acts, rep)
	}
	opts.kind = "azure-pim"
	opts.adapter = ad
	opts.ensureOnly = map[*table]bool{tPrincipals: true}
	opts.closeRule = func(t *table, cols []string) bool {
		return t == tAssignments && cols[1] == tid && cols[6] == "eligible" && cov.covers(cols[5])
	}
	return importFile(ctx, db, nil, nil, name, doc.hash, asOf, now, opts)
}

// eligibleByTriple maps principal, role and scope key to the ID of the tenant's stored
// eligible assignment with them (the open one when there are several).
func eligibleByTriple(ctx context.Context, q store.Querier, tid string) (map[string]string, error) {
	vs, err := access.EligibleVersions(ctx, q, tid)
	out := map[string]string{}
	for _, v := range vs {
		out[v.PrincipalID+"\x00"+v.RoleDefinitionID+"\x00"+v.ScopeKey] = v.ID // ordered by end: the latest (open) one wins
	}
	return out, err
}

// addActivations adds the activations to the eligible assignments they belong to: among the
// tenant's eligible assignments with the activation's principal, role and scope, the one in
// force when it started, else one it overlaps, else the last to end. Each assignment's
// activations become the union of the stored ones and the file's.
func addActivations(ctx context.Context, q store.Querier, ld store.Loader, name, tid string, acts []activation, rep *Report) error {
	if len(acts) == 0 {
		return nil
	}
	type version struct {
		id       string
		from, to int64
	}
	byTriple := map[string][]version{}
	vs, err := access.EligibleVersions(ctx, q, tid)
	if err != nil {
		return err
	}
	for _, v := range vs {
		k := v.PrincipalID + "\x00" + v.RoleDefinitionID + "\x00" + v.ScopeKey
		byTriple[k] = append(byTriple[k], version{v.ID, v.Valid.From, v.Valid.To})
	}
	var problems []Problem
	added := map[string][]timeline.Window{}
	var order []string
	for _, a := range acts {
		vs := byTriple[a.principal+"\x00"+a.role+"\x00"+a.scopeKey]
		id := ""
		for _, v := range vs {
			if v.from <= a.from && a.from < v.to {
				id = v.id
			}
		}
		for i := len(vs) - 1; id == "" && i >= 0; i-- {
			if vs[i].from < a.to && a.from < vs[i].to {
				id = vs[i].id
			}
		}
		if id == "" && len(vs) > 0 {
			id = vs[len(vs)-1].id
		}
		if id == "" {
			problems = append(problems, Problem{Path: a.e.path, Msg: fmt.Sprintf("activation of principal %s, role %s at %s matches no eligible assignment of tenant %s; "+
				"import the eligible assignment first (its roleEligibilityScheduleInstances with import azure-pim, or the estate file)", a.rawPrincipal, lastSegment(a.rawRole), a.raw, tid)})
			continue
		}
		if added[id] == nil {
			order = append(order, id)
		}
		added[id] = append(added[id], timeline.Window{From: a.from, To: a.to})
	}
	if len(problems) > 0 {
		return &InvalidError{File: name, Problems: problems}
	}
	for _, id := range order {
		stored, err := access.Activations(ctx, q, id)
		if err != nil {
			return err
		}
		before := timeline.Union(stored...)
		all := before
		fresh := 0
		for _, w := range added[id] {
			if before.Clip(w).Length() != w.Length() {
				fresh++
			}
			all = all.Add(w)
		}
		if fresh == 0 {
			continue
		}
		if err := access.ReplaceActivations(ctx, ld, id, all); err != nil {
			return err
		}
		rep.count("PIM activations").Created += fresh
	}
	return nil
}

type azLink struct {
	PartnerID   string  `json:"partnerId"`
	TenantID    string  `json:"tenantId"`
	ObjectID    string  `json:"objectId"`
	CreatedTime *string `json:"createdTime"`
	UpdatedTime *string `json:"updatedTime"`
	State       string  `json:"state"`
}

// ImportAzureLinks reads Microsoft.ManagementPartner PartnerResponse objects, as
// `az managementpartner show` prints them (flattened) or as the REST API returns them: an
// Active link is open from its createdTime; a Deleted one ended at its updatedTime.
func ImportAzureLinks(ctx context.Context, db *store.DB, r io.Reader, name string, opts Options) (*Report, error) {
	doc, err := readAzure(r, name)
	if err != nil {
		return nil, err
	}
	now, asOf := clock(opts)
	ad := &adapter{doc: doc}
	ad.build = func(ctx context.Context, q store.Querier, k *known) (*File, error) {
		ad.skipped, ad.origins = nil, map[string]origin{}
		f := &File{}
		var problems []Problem
		for i := range doc.entries {
			e := &doc.entries[i]
			top := e.top()
			if top.Type != "" && !strings.HasPrefix(strings.ToLower(top.Type), "microsoft.managementpartner/partner") {
				ad.skip(e, otherType(top.Type, "a partner link (Microsoft.ManagementPartner/partners)"))
				continue
			}
			var in azLink
			if p := e.decode(&in); p != nil {
				problems = append(problems, *p)
				continue
			}
			l := Link{TenantID: in.TenantID, ObjectID: in.ObjectID, PartnerID: in.PartnerID, From: in.CreatedTime}
			switch {
			case strings.EqualFold(in.State, "Active"):
			case strings.EqualFold(in.State, "Deleted") && in.UpdatedTime != nil:
				l.To = in.UpdatedTime
			case strings.EqualFold(in.State, "Deleted"):
				ad.skip(e, "state Deleted without updatedTime: when the link ended is unknown")
				continue
			default:
				ad.skip(e, fmt.Sprintf("state %q is neither Active nor Deleted", in.State))
				continue
			}
			if in.CreatedTime == nil {
				problems = append(problems, Problem{Path: e.field("createdTime"), Msg: "the link's createdTime is missing: when it began is unknown"})
				continue
			}
			ad.from(fmt.Sprintf("links[%d]", len(f.Links)), e, map[string]string{".tenantId": e.rel("tenantId"), ".objectId": e.rel("objectId"),
				".partnerId": e.rel("partnerId"), ".from": e.rel("createdTime"), ".to": e.rel("updatedTime")})
			f.Links = append(f.Links, l)
		}
		if len(problems) > 0 {
			return nil, &InvalidError{File: name, Problems: problems}
		}
		if len(f.Links) == 0 {
			return nil, &UnusedError{File: name, Shape: doc.shape, Skipped: ad.skipped}
		}
		return f, nil
	}
	opts.kind = "azure-links"
	opts.adapter = ad
	return importFile(ctx, db, nil, nil, name, doc.hash, asOf, now, opts)
}
