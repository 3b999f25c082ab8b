package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeIssuer is an OpenID provider on loopback: discovery document and JWKS with one RSA key.
func fakeIssuer(t *testing.T) (*httptest.Server, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys",
			"authorization_endpoint": srv.URL + "/authorize", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	return srv, key
}

func TestOIDCIssuer(t *testing.T) {
	srv, key := fakeIssuer(t)
	now := time.Now()
	v := NewVerifier(&Key{ID: "local"}, func() time.Time { return now })
	if err := v.AddOIDC(context.Background(), OIDCIssuer{URL: srv.URL, Audience: "api://partnerlink-prod"}); err != nil {
		t.Fatal(err)
	}
	sign := func(aud, iss string, roles ...string) string {
		c := Claims{TenantID: "11111111-0000-4000-8000-000000000001", ObjectID: "33333333-0000-4000-8000-000000000002", IDType: "user", Roles: roles}
		c.Issuer, c.Audience = iss, jwt.ClaimStrings{aud}
		c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(time.Hour))
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	req := func(tok string) (*Identity, error) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r2, err := v.Authenticate(r)
		if err != nil {
			return nil, err
		}
		id, _ := FromContext(r2.Context())
		return id, nil
	}
	id, err := req(sign("api://partnerlink-prod", srv.URL, "customer-admin"))
	if err != nil || !id.Has(RoleCustomerAdmin) || id.ObjectID != "33333333-0000-4000-8000-000000000002" {
		t.Fatalf("valid issuer token: %+v, %v", id, err)
	}
	for name, tok := range map[string]string{
		"wrong audience": sign("api://other", srv.URL),
		"unknown issuer": sign("api://partnerlink-prod", "https://evil.example"),
		"alg none": func() string {
			c := jwt.MapClaims{"iss": srv.URL, "aud": "api://partnerlink-prod", "tid": "t", "oid": "o", "exp": now.Add(time.Hour).Unix()}
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(),
		"tampered": strings.Replace(sign("api://partnerlink-prod", srv.URL), ".", ".x", 1),
	} {
		if _, err := req(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := v.AddOIDC(context.Background(), OIDCIssuer{URL: srv.URL + "/nowhere", Audience: "a"}); err == nil || !strings.Contains(err.Error(), "discovery failed") {
		t.Errorf("an unreachable issuer: %v", err)
	}
}
