package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Issuer and Audience of the tokens this server signs itself. Clients such as Azure's SDK ask
// for a token "for" the audience; tests and `partnerlink token` use it.
const (
	Issuer   = "partnerlink"
	Audience = "api://partnerlink"
)

// Claims are Entra-style token claims: tid and oid name the caller, idtyp says user or app.
// roles and partner_ids carry partnerlink's own roles (a token without roles is a plain
// principal that may manage its own link).
type Claims struct {
	TenantID   string   `json:"tid"`
	ObjectID   string   `json:"oid"`
	IDType     string   `json:"idtyp,omitempty"`
	Roles      []string `json:"roles,omitempty"`
	PartnerIDs []string `json:"partner_ids,omitempty"`
	jwt.RegisteredClaims
}

// Key is the server's signing key (ECDSA P-256, ES256), kept in the database so every server
// process of one deployment verifies the same tokens.
type Key struct {
	ID  string
	key *ecdsa.PrivateKey
}

// LoadOrCreateKey returns the newest signing key, creating one on first use.
func LoadOrCreateKey(ctx context.Context, db *store.DB, now func() time.Time) (*Key, error) {
	var k *Key
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		var id, pemText string
		err := tx.QueryRowContext(ctx, `SELECT id, private_pem FROM signing_keys WHERE algorithm = 'ES256' ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&id, &pemText)
		if err == nil {
			k, err = parseKey(id, pemText)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalECPrivateKey(priv)
		if err != nil {
			return err
		}
		id = store.NewID()
		pemText = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, private_pem, created_at) VALUES ($1, 'ES256', $2, $3)`,
			id, pemText, now().UnixNano()); err != nil {
			return err
		}
		k = &Key{ID: id, key: priv}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading the token signing key: %w", err)
	}
	return k, nil
}

func parseKey(id, pemText string) (*Key, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, fmt.Errorf("signing key %s is not PEM", id)
	}
	priv, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", id, err)
	}
	return &Key{ID: id, key: priv}, nil
}

// Mint signs a token for development and tests (see `partnerlink token`).
func (k *Key) Mint(c Claims, now time.Time, ttl time.Duration) (string, error) {
	c.Issuer = Issuer
	c.Audience = jwt.ClaimStrings{Audience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now.Add(-time.Minute))
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	if c.Subject == "" {
		c.Subject = c.ObjectID
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = k.ID
	return t.SignedString(k.key)
}

// Verifier checks bearer tokens signed by the server's key. Only ES256 is accepted: "none",
// HMAC and RSA tokens are rejected before any key is used.
type Verifier struct {
	key  *Key
	now  func() time.Time
	oidc map[string]*oidc.IDTokenVerifier // by issuer URL
}

// NewVerifier verifies tokens of key at the clock now.
func NewVerifier(key *Key, now func() time.Time) *Verifier { return &Verifier{key: key, now: now} }

// Verify parses and checks a token and returns the caller's identity.
func (v *Verifier) Verify(token string) (*Identity, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != v.key.ID {
			return nil, fmt.Errorf("the token was signed by key %q, which this server does not have", kid)
		}
		return &v.key.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(Audience), jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(v.now), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("invalid token: %w", err)
	}
	return identityOf(c)
}

// identityOf maps verified claims to an identity: every caller is a principal; roles add to it.
func identityOf(c Claims) (*Identity, error) {
	if c.TenantID == "" || c.ObjectID == "" {
		return nil, errors.New("invalid token: tid and oid are required")
	}
	id := &Identity{TenantID: strings.ToLower(c.TenantID), ObjectID: strings.ToLower(c.ObjectID), Type: c.IDType, PartnerIDs: c.PartnerIDs}
	id.Roles = []Role{RolePrincipal}
	for _, r := range c.Roles {
		switch Role(r) {
		case RoleCustomerAdmin, RolePartner, RoleOperator:
			id.Roles = append(id.Roles, Role(r))
		case RolePrincipal:
		default:
			return nil, fmt.Errorf("invalid token: unknown role %q", r)
		}
	}
	return id, nil
}

// Authenticate reads the bearer token of r and returns r with the identity in its context.
func (v *Verifier) Authenticate(r *http.Request) (*http.Request, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		// Only the Authorization header: a cookie would let other sites act for a signed-in
		// browser. The dashboard turns its cookie into this header after its CSRF check.
		return nil, errors.New("no bearer token: send Authorization: Bearer <token> (partnerlink token prints one for development)")
	}
	token = strings.TrimSpace(token)
	var id *Identity
	var err error
	if iss := v.issuerOf(token); iss != Issuer && v.oidc[iss] != nil {
		id, err = v.verifyOIDC(r.Context(), token)
	} else {
		id, err = v.Verify(token)
	}
	if err != nil {
		return nil, err
	}
	return r.WithContext(WithIdentity(r.Context(), id)), nil
}

// SignRaw signs a token built by the caller with the server's key (tests build tokens with
// wrong claims this way to check that the verifier rejects them).
func (k *Key) SignRaw(t *jwt.Token) (string, error) { return t.SignedString(k.key) }
