// Package whatif answers "what would this change do": it applies a change-set (links added or
// removed, role assignments added, PIM activations, a principal leaving) to an in-memory copy
// of the facts, attributes the period's stored usage of the tenants the changes touch before
// and after, and reports the difference against the stored run of the period, with the
// coverage audit's entries that change. Nothing is written.
package whatif

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The operations of a change-set.
const (
	OpAddLink         = "add-link"         // link tenant/object to a location
	OpRemoveLink      = "remove-link"      // remove tenant/object's link
	OpAddAssignment   = "add-assignment"   // give tenant/object a role at a scope (eligible: a PIM-eligible assignment)
	OpActivate        = "activate"         // activate tenant/object's eligible assignment of a role at a scope over from..to
	OpRemovePrincipal = "remove-principal" // tenant/object leaves: its links, assignments, memberships and authorisations end
)

// Ops lists the operations in the order of the CLI flags.
var Ops = []string{OpAddLink, OpRemoveLink, OpAddAssignment, OpActivate, OpRemovePrincipal}

// Change is one change of a change-set (the JSON schema of a change-set file and of POST
// /v1/whatif). From and To bound when it holds (YYYY-MM-DD or RFC 3339; empty = open); without
// them a change holds over the whole period. For activate they are the activation and are
// required.
type Change struct {
	Op       string `json:"op"`
	Tenant   string `json:"tenant"`
	Object   string `json:"object"`
	Location string `json:"location,omitempty"`
	Role     string `json:"role,omitempty"`
	Scope    string `json:"scope,omitempty"`
	Eligible bool   `json:"eligible,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
}

// ChangeSet is a change-set file or request body.
type ChangeSet struct {
	From    string   `json:"from,omitempty"`    // the period; the CLI's --from/--to win
	To      string   `json:"to,omitempty"`      //
	Partner string   `json:"partner,omitempty"` // whose audit entries to compare (default: see Request.Partner)
	Changes []Change `json:"changes"`
}

// String is the change in the CLI's flag syntax.
func (c Change) String() string {
	who := c.Tenant + "/" + c.Object
	var s string
	switch c.Op {
	case OpAddLink:
		s = who + "=" + c.Location
	case OpAddAssignment:
		s = who + ":" + c.Role + "@" + c.Scope
		if c.Eligible {
			s += ":eligible"
		}
	case OpActivate:
		return "--" + c.Op + " " + who + ":" + c.Role + "@" + c.Scope + "=" + c.From + ".." + c.To
	default:
		s = who
	}
	if c.From != "" || c.To != "" {
		s += "@" + c.From + ".." + c.To
	}
	return "--" + c.Op + " " + s
}

// ParseFlag reads one change in the CLI's syntax:
//
//	--add-link T/O=LOCATION[@FROM..TO]
//	--remove-link T/O[@FROM..TO]
//	--add-assignment T/O:ROLE@SCOPE[:eligible][@FROM..TO]
//	--activate T/O:ROLE@SCOPE=FROM..TO
//	--remove-principal T/O[@FROM..TO]
//
// T is the tenant ID, O the principal's object ID, ROLE a role name or definition ID, SCOPE an
// ARM scope ("/" for the tenant root); FROM and TO are YYYY-MM-DD or RFC 3339, either may be
// empty (open).
func ParseFlag(op, value string) (Change, error) {
	c := Change{Op: op}
	bad := func(format string, a ...any) (Change, error) {
		return c, fmt.Errorf("--%s %q: %s; syntax: --%s %s", op, value, fmt.Sprintf(format, a...), op, syntax[op])
	}
	if _, ok := syntax[op]; !ok {
		return c, fmt.Errorf("unknown change %q; use one of %s", op, strings.Join(Ops, ", "))
	}
	rest := strings.TrimSpace(value)
	if op == OpActivate {
		i := strings.LastIndex(rest, "=")
		if i < 0 || !strings.Contains(rest[i+1:], "..") {
			return bad("the activation window =FROM..TO is missing")
		}
		c.From, c.To, _ = strings.Cut(rest[i+1:], "..")
		rest = rest[:i]
	} else if i := strings.LastIndex(rest, "@"); i >= 0 && strings.Contains(rest[i+1:], "..") {
		c.From, c.To, _ = strings.Cut(rest[i+1:], "..")
		rest = rest[:i]
	}
	who, what := rest, ""
	switch op {
	case OpAddLink:
		who, what, _ = strings.Cut(rest, "=")
		if c.Location = strings.TrimSpace(what); c.Location == "" {
			return bad("the location after = is missing")
		}
	case OpAddAssignment, OpActivate:
		who, what, _ = strings.Cut(rest, ":")
		role, sc, ok := strings.Cut(what, "@")
		if !ok || role == "" || sc == "" {
			return bad("ROLE@SCOPE is missing after the principal")
		}
		if op == OpAddAssignment {
			if s, ok := strings.CutSuffix(sc, ":eligible"); ok {
				sc, c.Eligible = s, true
			}
		}
		c.Role, c.Scope = strings.TrimSpace(role), strings.TrimSpace(sc)
	}
	t, o, ok := strings.Cut(who, "/")
	if !ok || strings.TrimSpace(t) == "" || strings.TrimSpace(o) == "" {
		return bad("the principal must be TENANT/OBJECT")
	}
	c.Tenant, c.Object = strings.TrimSpace(t), strings.TrimSpace(o)
	c.From, c.To = strings.TrimSpace(c.From), strings.TrimSpace(c.To)
	if err := c.check(); err != nil {
		return bad("%v", err)
	}
	return c, nil
}

var syntax = map[string]string{
	OpAddLink:         "TENANT/OBJECT=LOCATION[@FROM..TO]",
	OpRemoveLink:      "TENANT/OBJECT[@FROM..TO]",
	OpAddAssignment:   "TENANT/OBJECT:ROLE@SCOPE[:eligible][@FROM..TO]",
	OpActivate:        "TENANT/OBJECT:ROLE@SCOPE=FROM..TO",
	OpRemovePrincipal: "TENANT/OBJECT[@FROM..TO]",
}

// window is when the change holds: From..To, open ends where empty; everything when both are
// empty (a change without a window holds over the whole period, and a period's attribution
// reads nothing outside it).
func (c Change) window() (timeline.Window, error) {
	w := timeline.Always()
	for _, b := range []struct {
		name, v string
		dst     *int64
	}{{"from", c.From, &w.From}, {"to", c.To, &w.To}} {
		if b.v == "" {
			continue
		}
		t, err := timeline.ParseDateOrTime(b.v)
		if err != nil {
			return w, fmt.Errorf("%s %q is not a date; use YYYY-MM-DD or an RFC 3339 instant", b.name, b.v)
		}
		*b.dst = t
	}
	if w.Empty() {
		return w, fmt.Errorf("from %s is not before to %s", c.From, c.To)
	}
	if c.Op == OpActivate && (c.From == "" || c.To == "") {
		return w, fmt.Errorf("an activation needs both from and to")
	}
	return w, nil
}

// check validates a change's fields (of a file or request body: the flags are checked as they
// are parsed).
func (c Change) check() error {
	if _, ok := syntax[c.Op]; !ok {
		return fmt.Errorf("op %q is not known; use one of %s", c.Op, strings.Join(Ops, ", "))
	}
	missing := func(field string) error { return fmt.Errorf("%s needs %q", c.Op, field) }
	switch {
	case strings.TrimSpace(c.Tenant) == "":
		return missing("tenant")
	case strings.TrimSpace(c.Object) == "":
		return missing("object")
	case c.Op == OpAddLink && strings.TrimSpace(c.Location) == "":
		return missing("location")
	case (c.Op == OpAddAssignment || c.Op == OpActivate) && strings.TrimSpace(c.Role) == "":
		return missing("role")
	case (c.Op == OpAddAssignment || c.Op == OpActivate) && strings.TrimSpace(c.Scope) == "":
		return missing("scope")
	case c.Op != OpAddLink && c.Location != "":
		return fmt.Errorf("%s takes no location", c.Op)
	case c.Op != OpAddAssignment && c.Eligible:
		return fmt.Errorf("only add-assignment takes eligible")
	}
	_, err := c.window()
	return err
}

// DecodeChangeSet reads a change-set (JSON, see ChangeSet; unknown fields are errors). Errors
// name the source, the JSON path and the fix.
func DecodeChangeSet(r io.Reader, name string) (*ChangeSet, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("%s: a change-set is at most 1 MiB", name)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cs ChangeSet
	if err := dec.Decode(&cs); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%s: not JSON at byte %d: %v", name, se.Offset, err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("%s: %s: want a %s, got %s", name, te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("%s: %v (a change-set is {\"changes\": [{\"op\": ..., \"tenant\": ..., \"object\": ...}]})", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value; a change-set is one object", name)
	}
	for i, c := range cs.Changes {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("%s: changes[%d]: %v", name, i, err)
		}
	}
	return &cs, nil
}
