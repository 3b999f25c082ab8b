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
// call. It is only correct while something tells it of every change, whoever makes it (this
// server, another server process, an estate import, SQL by hand):
//
//   - On PostgreSQL, Listen subscribes to the notifications that triggers send on commit, and
//     the cache stays disabled whenever the subscription is down. A change committed by
//     another process is visible here once its notification arrives (typically within
//     milliseconds); changes made through this process are visible to it at once.
//   - On SQLite, every lookup first asks a commitWatch whether anything at all has been
//     committed to the file since the entries were read (PRAGMA data_version, from a reading
//     that begins after the lookup began), and forgets every entry if so. A GET served from
//     memory is therefore exactly the record as it stood at some instant after the request
//     arrived, whoever changed it, in this process or another.
type Cache struct {
	mu      sync.Mutex
	enabled bool
	// seq counts invalidations. A reader notes it before reading the database and stores its
	// result only if no invalidation happened meanwhile, so a slow read never puts back a
	// record that a concurrent change already replaced.
	seq     uint64
	entries map[cacheKey]cached
	// watch is set on SQLite while Listen runs; epoch is the watch's epoch at which every
	// entry was known current: each entry was read from the database after the reading that
	// established epoch began (a reset bumps seq, so older reads are not stored).
	watch *commitWatch
	epoch uint64
	// hits counts lookups answered from memory (tests).
	hits uint64
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

// ticket lets a reader that missed store what it then reads from the database (see put).
type ticket struct {
	seq uint64
	ok  bool
}

// lookup returns the cached record of k if there is a current one, and otherwise a ticket
// for storing the record the caller reads from the database next.
func (c *Cache) lookup(k cacheKey) (cached, bool, ticket) {
	if c == nil {
		return cached{}, false, ticket{}
	}
	c.mu.Lock()
	w := c.watch
	if !c.enabled {
		c.mu.Unlock()
		return cached{}, false, ticket{}
	}
	if w != nil {
		// SQLite: look for commits first (outside the lock: the reading may be shared with
		// other lookups and has to wait for one in progress).
		c.mu.Unlock()
		epoch, err := w.Epoch()
		c.mu.Lock()
		if err != nil || !c.enabled || c.watch != w {
			c.mu.Unlock()
			return cached{}, false, ticket{}
		}
		if epoch > c.epoch {
			// Something was committed since the entries were read; which rows it touched is
			// not known, so forget them all.
			c.seq++
			c.entries = nil
			c.epoch = epoch
		}
		// epoch < c.epoch: another lookup has since seen a newer reading, begun after this
		// lookup began; the entries are at least that current.
	}
	e, ok := c.entries[k]
	if ok {
		c.hits++
	}
	t := ticket{seq: c.seq, ok: true}
	c.mu.Unlock()
	return e, ok, t
}

// put stores what a reader read after lookup gave it t, unless anything was invalidated since.
func (c *Cache) put(k cacheKey, t ticket, e cached) {
	if !t.ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled || c.seq != t.seq {
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

// Listen keeps c in step with the database until ctx ends. On PostgreSQL it subscribes to
// link change notifications, enables the cache while subscribed, and on a lost connection
// disables it, waits and subscribes again. On SQLite it holds one connection of the pool for
// the commit watch (see Cache) and enables the cache; an in-memory database (a pool of one
// connection, which the watch would take) runs without the cache.
func (c *Cache) Listen(ctx context.Context, db *store.DB, log *slog.Logger) {
	if db.Engine() == store.SQLite {
		c.watchCommits(ctx, db)
		return
	}
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

// watchCommits runs the SQLite commit watch until ctx ends.
func (c *Cache) watchCommits(ctx context.Context, db *store.DB) {
	if n := db.Stats().MaxOpenConnections; n > 0 && n < 2 {
		return
	}
	dv := &dataVersion{ctx: ctx, db: db}
	w := newCommitWatch(dv.look, dv.close)
	c.mu.Lock()
	c.watch, c.epoch = w, 0 // epochs count from zero for each watch
	c.mu.Unlock()
	c.reset(true)
	c.observed("ready")
	<-ctx.Done()
	c.reset(false)
	c.mu.Lock()
	c.watch = nil
	c.mu.Unlock()
	w.close()
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
