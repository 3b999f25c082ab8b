package link

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Cache keeps callers' current link records in memory for the ARM GET, the API's hottest
// call. It is only correct while something tells it of every change: Listen does that on
// PostgreSQL (triggers notify on commit, from any process), and the cache stays disabled
// whenever the subscription is down. SQLite servers run without it.
//
// A change committed by another server process is visible here once its notification
// arrives (typically within milliseconds); changes made through this process are visible to
// this process at once.
type Cache struct {
	mu      sync.Mutex
	enabled bool
	// seq counts invalidations. A reader notes it before reading the database and stores its
	// result only if no invalidation happened meanwhile, so a slow read never puts back a
	// record that a concurrent change already replaced.
	seq     uint64
	entries map[cacheKey]cached
	// observe, if set (tests), receives "ready" when Listen subscribes and each payload once
	// it has been applied; sends never block (a full channel drops the event).
	observe chan<- string
}

type cacheKey struct{ tenantID, objectID string }

type cached struct {
	link  Link
	found bool // false: the principal has no links row
}

// maxCachedLinks bounds the cache; when full it is emptied.
const maxCachedLinks = 1 << 18

// NewCache returns a disabled cache; Listen enables it.
func NewCache() *Cache { return &Cache{} }

func (c *Cache) get(k cacheKey) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled {
		return cached{}, false
	}
	e, ok := c.entries[k]
	return e, ok
}

// begin returns the invalidation count to pass to put, and whether caching is on.
func (c *Cache) begin() (uint64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq, c.enabled
}

func (c *Cache) put(k cacheKey, seq uint64, e cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.seq != seq {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedLinks {
		c.entries = make(map[cacheKey]cached)
	}
	c.entries[k] = e
}

// invalidate forgets one principal's record.
func (c *Cache) invalidate(k cacheKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	delete(c.entries, k)
}

// reset forgets everything and turns caching on or off.
func (c *Cache) reset(enabled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.entries = nil
	c.enabled = enabled
}

// notifyChannel is the channel of migration 0100_link_notify.sql (PostgreSQL).
const notifyChannel = "partnerlink_links"

// Listen keeps c in step with the database until ctx ends: it subscribes to link change
// notifications, enables the cache while subscribed, and on a lost connection disables it,
// waits and subscribes again. On engines without notifications it returns at once and the
// cache stays disabled.
func (c *Cache) Listen(ctx context.Context, db *store.DB, log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for {
		err := db.Listen(ctx, notifyChannel, func() {
			c.reset(true)
			backoff = 100 * time.Millisecond
			c.observed("ready")
		}, c.notified)
		c.reset(false)
		if errors.Is(err, store.ErrNoNotifications) || ctx.Err() != nil {
			return
		}
		log.Warn("link cache disabled: lost the change notifications; subscribing again", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (c *Cache) notified(payload string) {
	tenantID, objectID, ok := strings.Cut(payload, "/")
	if !ok { // "*": a partner location changed
		c.reset(true)
		c.observed(payload)
		return
	}
	c.invalidate(cacheKey{tenantID, objectID})
	c.observed(payload)
}

func (c *Cache) observed(what string) {
	select {
	case c.observe <- what: // a nil channel is never ready
	default:
	}
}
