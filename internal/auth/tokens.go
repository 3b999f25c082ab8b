package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"

	"github.com/partnerlink/partnerlink/internal/directory"
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

// Mint signs a token for development and tests (see `partnerlink token`). It refuses claims
// the verifier would refuse (an empty or malformed partner ID among them).
func (k *Key) Mint(c Claims, now time.Time, ttl time.Duration) (string, error) {
	if _, err := identityOf(c); err != nil {
		return "", err
	}
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
	key   *Key
	now   func() time.Time
	oidc  map[string]*oidc.IDTokenVerifier // by issuer URL
	cache tokenCache
}

// NewVerifier verifies tokens of key at the clock now.
func NewVerifier(key *Key, now func() time.Time) *Verifier { return &Verifier{key: key, now: now} }

// Verify parses and checks a token and returns the caller's identity.
func (v *Verifier) Verify(token string) (*Identity, error) {
	id, _, err := v.verify(token)
	return id, err
}

// verify also returns when the token expires, for the cache.
func (v *Verifier) verify(token string) (*Identity, time.Time, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != v.key.ID {
			return nil, fmt.Errorf("the token was signed by key %q, which this server does not have", kid)
		}
		return &v.key.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(Audience), jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(v.now), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("invalid token: %w", err)
	}
	id, err := identityOf(c)
	return id, c.ExpiresAt.Time, err // ExpiresAt is required above
}

// identityOf maps verified claims to an identity: every caller is a principal; roles add to it.
func identityOf(c Claims) (*Identity, error) {
	if c.TenantID == "" || c.ObjectID == "" {
		return nil, errors.New("invalid token: tid and oid are required")
	}
	id := &Identity{TenantID: strings.ToLower(c.TenantID), ObjectID: strings.ToLower(c.ObjectID), Type: c.IDType, PartnerIDs: c.PartnerIDs}
	for i, p := range c.PartnerIDs {
		// An empty entry would otherwise match an empty ID anywhere an ID is compared.
		if err := directory.CheckID(p); err != nil {
			return nil, fmt.Errorf("invalid token: partner_ids[%d]: %w", i, err)
		}
	}
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
	key := sha256.Sum256([]byte(token))
	now := v.now()
	id, ok := v.cache.get(key, now)
	if !ok {
		var expires time.Time
		var err error
		if iss := v.issuerOf(token); iss != Issuer && v.oidc[iss] != nil {
			id, expires, err = v.verifyOIDC(r.Context(), token)
		} else {
			id, expires, err = v.verify(token)
		}
		if err != nil {
			return nil, err
		}
		v.cache.put(key, id, expires)
	}
	cp := *id // handlers get their own copy; the cached identity is shared
	return r.WithContext(WithIdentity(r.Context(), &cp)), nil
}

// tokenCache remembers identities of tokens that verified, until they expire. Verifying an
// ES256 signature costs about as much CPU as the rest of a link request; a client sends the
// same token for its whole lifetime. Entries are keyed by the token's SHA-256, so only the
// exact bytes that verified hit, and are never used at or after the token's expiry (the
// verifier's leeway is not extended to cached entries).
type tokenCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]cachedIdentity
}

type cachedIdentity struct {
	id      *Identity
	expires time.Time
}

// maxCachedTokens bounds the cache; when full it is emptied (tokens are re-verified once).
const maxCachedTokens = 1 << 16

func (c *tokenCache) get(key [32]byte, now time.Time) (*Identity, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e.id, true
}

func (c *tokenCache) put(key [32]byte, id *Identity, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCachedTokens {
		c.entries = make(map[[32]byte]cachedIdentity)
	}
	c.entries[key] = cachedIdentity{id: id, expires: expires}
}

// SignRaw signs a token built by the caller with the server's key (tests build tokens with
// wrong claims this way to check that the verifier rejects them).
func (k *Key) SignRaw(t *jwt.Token) (string, error) { return t.SignedString(k.key) }
