package v1_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/store/storetest"
)

// The operator registers identifiers and accounts; an organisation ID is refused with its
// locations listed, a value held by another location is 409, and each partner sees only its own.
func TestV1IdentifiersAndAccounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newLinksEnv(t, db)
		op := e.token("ops", "o", []string{"operator"})
		contoso := e.token("pt", "y", []string{"partner"}, "4000000")
		fabrikam := e.token("pt", "z", []string{"partner"}, "5000001")
		body := func(value, from string) string {
			return fmt.Sprintf(`{"scheme":"aws-product-code","value":%q,"from":%q,"to":null}`, value, from)
		}
		if code, out := e.do("POST", "/v1/partners/4000001/identifiers", op, body("code1", "2026-01-01")); code != 200 || out["partnerId"] != "4000001" {
			t.Fatalf("register: %d %v", code, out)
		}
		code, out := e.do("POST", "/v1/partners/4000000/identifiers", op, body("code2", "2026-01-01"))
		if code != 400 || !strings.Contains(fmt.Sprint(out["detail"]), "4000001 (Contoso UK), 4000002 (Contoso DE)") {
			t.Fatalf("organisation ID: %d %v", code, out)
		}
		if code, out := e.do("POST", "/v1/partners/5000001/identifiers", op, body("CODE1", "2026-02-01")); code != 409 {
			t.Fatalf("another location's value: %d %v", code, out)
		}
		if code, _ := e.do("POST", "/v1/partners/5000001/identifiers", contoso, body("x", "2026-02-01")); code != 403 {
			t.Fatalf("a partner registering: %d", code)
		}
		if code, out := e.do("GET", "/v1/identifiers", fabrikam, ""); code != 200 || len(items(out)) != 0 {
			t.Fatalf("another partner's list: %d %v", code, out)
		}
		if code, out := e.do("GET", "/v1/partners/4000000/identifiers", contoso, ""); code != 200 || len(items(out)) != 1 {
			t.Fatalf("own list: %d %v", code, out)
		}
		if code, out := e.do("DELETE", "/v1/identifiers/aws-product-code/Code1?at=2026-02-01", op, ""); code != 200 || out["to"] != "2026-02-01T00:00:00Z" {
			t.Fatalf("close: %d %v", code, out)
		}
		if code, out := e.do("POST", "/v1/partners/5000001/identifiers", op, body("CODE1", "2026-02-01")); code != 200 {
			t.Fatalf("moved after closing: %d %v", code, out)
		}

		acc := `{"kind":"billing","name":"reseller","billingAccountId":"","resale":[{"partnerId":"5000001","from":"2026-01-01","to":null}]}`
		if code, out := e.do("PUT", "/v1/accounts/Google Cloud/ABC-123", op, acc); code != 200 || out["provider"] != "google" {
			t.Fatalf("put account: %d %v", code, out)
		}
		if code, _ := e.do("GET", "/v1/accounts/google/abc-123", contoso, ""); code != 403 {
			t.Fatalf("not its account: %d", code)
		}
		if code, out := e.do("GET", "/v1/accounts/google/abc-123", fabrikam, ""); code != 200 || out["id"] != "ABC-123" {
			t.Fatalf("its account: %d %v", code, out)
		}
		if code, out := e.do("PUT", "/v1/accounts/aws/1", op, `{"kind":"sub","resale":[{"partnerId":"4000000","from":null,"to":null}]}`); code != 400 ||
			!strings.Contains(fmt.Sprint(out["detail"]), "4000001 (Contoso UK)") {
			t.Fatalf("organisation as reseller: %d %v", code, out)
		}
	})
}
