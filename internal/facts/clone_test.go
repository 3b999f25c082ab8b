package facts_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/partnerlink/partnerlink/internal/facts/factstest"
	"github.com/partnerlink/partnerlink/internal/timeline"
	"pgregory.net/rapid"
)

// A clone equals its original, and changing any nested part of the clone leaves the original
// as it was (a what-if must never leak into the loaded facts).
func TestCloneIsDeep(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := factstest.GenSnapshot(t)
		s.EligibilityOverrides = map[string]bool{"Reader": true}
		s.Assignments[0].Activations = []timeline.Window{{From: 5, To: 6}}
		if !reflect.DeepEqual(s, s.Clone()) {
			t.Fatal("clone differs from its original")
		}
		before, _ := json.Marshal(s) // independent of anything Clone might share
		c := s.Clone()
		w := timeline.Window{From: 1, To: 2}
		c.Organisations[0].TenantIDs[0] = "changed"
		c.Organisations[0].Locations[0].Active[0] = w
		c.RoleDefinitions[2].Permissions[0].Actions[0] = "changed"
		c.Assignments[0].PrincipalID = "changed"
		c.Assignments[0].Activations[0] = w
		if len(c.Delegations) > 0 {
			c.Delegations[0].Authorizations[0].PrincipalID = "changed"
		}
		c.Links[0].LocationID = "changed"
		c.Principals[0].ObjectID = "changed"
		c.Subscriptions[0].TenantID = "changed"
		c.EligibilityOverrides["Reader"] = false
		if after, _ := json.Marshal(s); string(after) != string(before) {
			t.Fatal("changing the clone changed the original")
		}
	})
}
