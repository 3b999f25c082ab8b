package estatefile

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/partnerlink/partnerlink/internal/scope"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Adapters for the files Azure's tools print. Each turns its file into the estate model and
// applies it with the same validation, history and all-or-nothing rules as an estate file.

func readJSON(r io.Reader, name string, v any) (string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return "", syntaxError(name, data, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

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

type azRoleAssignment struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	PrincipalID      string `json:"principalId"`
	PrincipalType    string `json:"principalType"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	Scope            string `json:"scope"`
	CreatedOn        string `json:"createdOn"`
}

// ImportAzureRoleAssignments reads `az role assignment list --all` output for one tenant. It
// is a snapshot: open assignments of the tenant whose scope lies in a subscription (or at a
// management group or root scope) that the snapshot covers, and that the snapshot lacks, are
// closed at AsOf. Principals it names are created if unknown (type from principalType).
func ImportAzureRoleAssignments(ctx context.Context, db *store.DB, r io.Reader, name, tenantID string, opts Options) (*Report, error) {
	var in []azRoleAssignment
	hash, err := readJSON(r, name, &in)
	if err != nil {
		return nil, err
	}
	now, asOf := clock(opts)
	tid := strings.ToLower(tenantID)
	f := &File{}
	covered := map[string]bool{}
	seen := map[string]bool{}
	for _, a := range in {
		id := a.Name
		if id == "" {
			id = lastSegment(a.ID)
		}
		ra := RoleAssignment{ID: id, TenantID: tid, PrincipalID: a.PrincipalID, RoleDefinitionID: lastSegment(a.RoleDefinitionID),
			Scope: a.Scope, Kind: "active"}
		if a.CreatedOn != "" {
			c := a.CreatedOn
			ra.From = &c
		}
		f.RoleAssignments = append(f.RoleAssignments, ra)
		if sc, err := scope.Parse(a.Scope); err == nil {
			if sc.Subscription != "" {
				covered["/subscriptions/"+sc.Subscription] = true
			} else {
				covered[sc.Key] = true
			}
		}
		if pk := strings.ToLower(a.PrincipalID); !seen[pk] {
			seen[pk] = true
			typ := a.PrincipalType
			if typ == "" || typ == "Unknown" {
				typ = "User"
			}
			f.Principals = append(f.Principals, Principal{TenantID: tid, ObjectID: a.PrincipalID, Type: typ})
		}
	}
	opts.kind = "azure-role-assignments"
	opts.ensureOnly = map[*table]bool{tPrincipals: true}
	opts.closeRule = func(t *table, cols []string) bool {
		if t != tAssignments || cols[1] != tid {
			return false
		}
		key := cols[5] // scope_key
		for c := range covered {
			if scope.PrefixCovers(c, key) {
				return true
			}
		}
		return false
	}
	return importFile(ctx, db, f, nil, name, hash, asOf, now, opts)
}

type azRoleDefinition struct {
	Name        string       `json:"name"`
	RoleName    string       `json:"roleName"`
	RoleType    string       `json:"roleType"`
	Type        string       `json:"type"`
	Permissions []Permission `json:"permissions"`
}

// ImportAzureRoleDefinitions reads `az role definition list` output (built-in and custom).
func ImportAzureRoleDefinitions(ctx context.Context, db *store.DB, r io.Reader, name string, opts Options) (*Report, error) {
	var in []azRoleDefinition
	hash, err := readJSON(r, name, &in)
	if err != nil {
		return nil, err
	}
	now, asOf := clock(opts)
	f := &File{}
	for _, d := range in {
		typ := d.RoleType
		if typ == "" {
			typ = "CustomRole"
		}
		f.RoleDefinitions = append(f.RoleDefinitions, RoleDefinition{ID: d.Name, RoleName: d.RoleName, Type: typ, Permissions: d.Permissions})
	}
	opts.kind = "azure-role-definitions"
	return importFile(ctx, db, f, nil, name, hash, asOf, now, opts)
}

type azScheduleInstance struct {
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	Scope            string `json:"scope"`
	StartDateTime    string `json:"startDateTime"`
	EndDateTime      string `json:"endDateTime"`
	AssignmentType   string `json:"assignmentType"`
	MemberType       string `json:"memberType"`
}

// ImportAzurePIM reads PIM schedule instances (roleAssignmentScheduleInstances). Each
// "Activated" instance becomes an activation window of the tenant's eligible assignment with the
// same principal, role and scope; activations already stored are kept. "Assigned" instances
// describe active or eligible assignments themselves and are skipped (import those with
// azure-role-assignments or the estate file). An activation without a matching eligible
// assignment is an error: all or nothing.
func ImportAzurePIM(ctx context.Context, db *store.DB, r io.Reader, name, tenantID string, opts Options) (*Report, error) {
	var in []azScheduleInstance
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if err := json.Unmarshal(data, &in); err != nil {
		// The REST API wraps the list as {"value": [...]}.
		var wrapped struct {
			Value []azScheduleInstance `json:"value"`
		}
		if json.Unmarshal(data, &wrapped) != nil {
			return nil, syntaxError(name, data, err)
		}
		in = wrapped.Value
	}
	now, _ := clock(opts)
	tid := strings.ToLower(tenantID)
	rep := &Report{DryRun: opts.DryRun, Kinds: map[string]*Counts{}}
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		rep.Kinds = map[string]*Counts{}
		eligible := map[string]string{}
		rows, err := tx.QueryContext(ctx, `SELECT id, principal_id, role_definition_id, scope_key FROM role_assignments WHERE tenant_id = $1 AND kind = 'eligible'`, tid)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, p, rd, sk string
			if err := rows.Scan(&id, &p, &rd, &sk); err != nil {
				rows.Close()
				return err
			}
			eligible[p+"\x00"+rd+"\x00"+sk] = id
		}
		rows.Close()
		var problems []Problem
		type act struct {
			id       string
			from, to int64
		}
		var acts []act
		for i, s := range in {
			path := fmt.Sprintf("[%d]", i)
			if !strings.EqualFold(s.AssignmentType, "Activated") {
				continue
			}
			from, err1 := timeline.Parse(s.StartDateTime)
			to, err2 := timeline.Parse(s.EndDateTime)
			if err1 != nil || err2 != nil || to <= from {
				problems = append(problems, Problem{path, fmt.Sprintf("startDateTime %q and endDateTime %q must be RFC 3339 times, end after start", s.StartDateTime, s.EndDateTime)})
				continue
			}
			k := strings.ToLower(s.PrincipalID) + "\x00" + strings.ToLower(lastSegment(s.RoleDefinitionID)) + "\x00" + scope.Key(s.Scope)
			id, ok := eligible[k]
			if !ok {
				problems = append(problems, Problem{path, fmt.Sprintf("activation of principal %s, role %s at %s matches no eligible assignment of tenant %s; import the eligible assignment first",
					s.PrincipalID, lastSegment(s.RoleDefinitionID), s.Scope, tid)})
				continue
			}
			acts = append(acts, act{id, from, to})
		}
		if len(problems) > 0 {
			return &InvalidError{File: name, Problems: problems}
		}
		for _, a := range acts {
			res, err := tx.ExecContext(ctx, `INSERT INTO pim_activations (assignment_id, valid_from, valid_to) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, a.id, a.from, a.to)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				rep.count("PIM activations").Created++
			}
		}
		if opts.DryRun {
			return errDryRun
		}
		rep.ImportID = store.NewID()
		summary, _ := json.Marshal(rep.Kinds)
		_, err = tx.ExecContext(ctx, `INSERT INTO imports (id, kind, file_name, rows_read, rows_added, summary, started_at, finished_at, status)
			VALUES ($1, 'azure-pim', $2, $3, $4, $5, $6, $6, 'done')`, rep.ImportID, name, int64(len(in)), int64(len(acts)), string(summary), now().UnixNano())
		return err
	})
	if err == errDryRun {
		return rep, nil
	}
	if inv, ok := err.(*InvalidError); ok {
		return nil, inv
	}
	if err != nil {
		return nil, db.Translate(err)
	}
	return rep, nil
}

type azPartnerResponse struct {
	Properties struct {
		PartnerID   string `json:"partnerId"`
		TenantID    string `json:"tenantId"`
		ObjectID    string `json:"objectId"`
		CreatedTime string `json:"createdTime"`
		UpdatedTime string `json:"updatedTime"`
		State       string `json:"state"`
	} `json:"properties"`
}

// ImportAzureLinks reads Microsoft.ManagementPartner PartnerResponse objects (what
// `az managementpartner show` prints, one per principal, as an array): an Active link is open
// from its createdTime; a Deleted one ended at its updatedTime.
func ImportAzureLinks(ctx context.Context, db *store.DB, r io.Reader, name string, opts Options) (*Report, error) {
	var in []azPartnerResponse
	hash, err := readJSON(r, name, &in)
	if err != nil {
		return nil, err
	}
	now, asOf := clock(opts)
	f := &File{}
	for _, p := range in {
		l := Link{TenantID: p.Properties.TenantID, ObjectID: p.Properties.ObjectID, PartnerID: p.Properties.PartnerID}
		if c := p.Properties.CreatedTime; c != "" {
			l.From = &c
		}
		if strings.EqualFold(p.Properties.State, "Deleted") && p.Properties.UpdatedTime != "" {
			u := p.Properties.UpdatedTime
			l.To = &u
		}
		f.Links = append(f.Links, l)
	}
	opts.kind = "azure-links"
	return importFile(ctx, db, f, nil, name, hash, asOf, now, opts)
}
