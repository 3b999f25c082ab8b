package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"testing"
	"time"
)

func testKey(t *testing.T) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{ID: "k1", key: priv}
}

func authenticate(v *Verifier, token string) (*Identity, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	r2, err := v.Authenticate(r)
	if err != nil {
		return nil, err
	}
	id, _ := FromContext(r2.Context())
	return id, nil
}

// The cache of verified tokens must never outlive a token or accept bytes that did not verify.
func TestTokenCacheHonoursExpiryAndExactBytes(t *testing.T) {
	key := testKey(t)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := start
	v := NewVerifier(key, func() time.Time { return now })
	tok, err := key.Mint(Claims{TenantID: "T1", ObjectID: "O1", IDType: "user"}, start, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := authenticate(v, tok)
	if err != nil || id.TenantID != "t1" || id.ObjectID != "o1" {
		t.Fatalf("first use: %+v, %v", id, err)
	}
	// A handler changing its identity must not change what the next request sees.
	id.Roles = append(id.Roles, RoleOperator)
	id.TenantID = "other"
	again, err := authenticate(v, tok)
	if err != nil || again.TenantID != "t1" || again.IsOperator() {
		t.Fatalf("second use (cached) returned %+v, %v; want the original identity", again, err)
	}
	// A token that differs in one byte of its signature is verified, and fails.
	tampered := tok[:len(tok)-2] + string("AB"[len(tok)%2]) + tok[len(tok)-1:]
	if tampered == tok {
		tampered = tok[:len(tok)-2] + "x" + tok[len(tok)-1:]
	}
	if _, err := authenticate(v, tampered); err == nil {
		t.Fatal("a tampered token was accepted")
	}
	// Just before expiry the cached entry is used; at expiry it is not, even within the
	// verifier's leeway for fresh verifications.
	now = start.Add(time.Hour - time.Second)
	if _, err := authenticate(v, tok); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	now = start.Add(time.Hour + time.Minute)
	if _, err := authenticate(v, tok); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	}
}
