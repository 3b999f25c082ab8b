package link

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/partnerlink/partnerlink/internal/directory"
	"github.com/partnerlink/partnerlink/internal/estate"
	"github.com/partnerlink/partnerlink/internal/link/groupcommit"
	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// Error codes, as the ARM API reports them.
const (
	CodeBadRequest = "BadRequest"
	CodeNotFound   = "NotFound"
	CodeConflict   = "Conflict"
)

// Error is a refusal with an ARM error code and a message that says what to do.
type Error struct {
	Code string
	Msg  string
	// refusedOrg is the organisation ID a create or update named instead of a location: Change
	// records the attempt (Refusals).
	refusedOrg string
}

func (e *Error) Error() string { return e.Msg }

// Caller is the principal acting on its own link: only a principal may change its link.
type Caller struct {
	TenantID, ObjectID string
	IDType             string // "user" or "app" (a group cannot hold a token, but check anyway)
	RequestID          string
}

// Store is the only code that reads or writes the link tables (links, link_history,
// link_spans) and the events they emit (events), apart from the functions of this package that
// take a store.Querier or store.Loader for a caller's transaction (LoadSpans, Backfill) and the
// table descriptors. Every change, through the API (Change) or an import (Backfill), writes the
// current record, the link windows that attribution reads, an append-only history row and an
// event, in one transaction.
type Store struct {
	DB  *store.DB
	Now func() time.Time
	// Cache, if set, serves Get from memory (see Cache for when that is correct).
	Cache *Cache
}

// tx is the database's committer: the link write's transactions (groupcommit).
func (s *Store) tx() *groupcommit.Committer { return groupcommit.For(s.DB) }

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

type current struct {
	Link
	exists bool
}

// postgresLock reads and locks the caller's current record on PostgreSQL (sqliteReadBatch is
// SQLite's), so that concurrent requests for one principal queue on its row lock, and then
// reads the start of the caller's newest link window and the caller's directory type (so that
// a group is refused). The window is read in a statement of its own after the lock: a
// statement that waits for a lock still reads the snapshot taken before waiting, and would miss
// the window the previous holder just opened (the concurrency test caught that). A principal
// without a record gets an empty one, which takes the lock (a concurrent first write for it
// waits on the insert), and the window is read again after it.
func (s *Store) postgresLock(ctx context.Context, p groupcommit.Pipe, c Caller, cur *current, lastFrom *sql.NullInt64, principalType *string) error {
	found := false
	scan := func(r groupcommit.Row) error {
		var created, updated int64
		if err := r.Scan(&cur.PartnerID, &cur.Version, &cur.State, &created, &updated); err != nil {
			return err
		}
		found = true
		cur.TenantID, cur.ObjectID = c.TenantID, c.ObjectID
		cur.CreatedTime, cur.UpdatedTime = timeline.Time(created), timeline.Time(updated)
		cur.exists = cur.Version > 0
		return nil
	}
	after := func(b *groupcommit.Batch) {
		b.QueryRow(func(r groupcommit.Row) error { return r.Scan(lastFrom, principalType) }, postgresAfterLockSQL, c.TenantID, c.ObjectID)
	}
	var b groupcommit.Batch
	b.QueryRow(func(r groupcommit.Row) error {
		if err := scan(r); !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return nil
	}, `SELECT location_id, version, state, created_at, updated_at FROM links
		WHERE tenant_id = $1 AND object_id = $2 FOR UPDATE`, c.TenantID, c.ObjectID)
	after(&b)
	if err := p.Send(ctx, &b); err != nil || found {
		return err
	}
	var create groupcommit.Batch
	create.QueryRow(scan, `INSERT INTO links (tenant_id, object_id, location_id, version, state, created_at, updated_at)
		VALUES ($1, $2, '', 0, $3, 0, 0)
		ON CONFLICT (tenant_id, object_id) DO UPDATE SET version = links.version
		RETURNING location_id, version, state, created_at, updated_at`, c.TenantID, c.ObjectID, StateDeleted)
	after(&create)
	return p.Send(ctx, &create)
}

// sqliteReadBatch is postgresLock on SQLite, where the transaction holds the file's only write
// lock from its start, so nothing needs locking and one read does: the current record (or
// none), the start of the newest window, the directory type and the partner name (statements
// cost CPU there, not round trips). The record is written with an upsert (write.sqlite).
func (s *Store) sqliteReadBatch(c Caller, cur *current, lastFrom *sql.NullInt64, principalType *string) *groupcommit.Batch {
	var b groupcommit.Batch
	b.QueryRow(func(r groupcommit.Row) error {
		var created, updated int64
		if err := r.Scan(&cur.PartnerID, &cur.Version, &cur.State, &created, &updated, &cur.PartnerName, lastFrom, principalType); err != nil {
			return err
		}
		cur.TenantID, cur.ObjectID = c.TenantID, c.ObjectID
		cur.CreatedTime, cur.UpdatedTime = timeline.Time(created), timeline.Time(updated)
		cur.exists = cur.Version > 0
		return nil
	}, sqliteReadSQL, c.TenantID, c.ObjectID, StateDeleted)
	return &b
}

// The statements of the hot path that read other owners' tables through their SQL expressions,
// composed once.
var (
	// postgresAfterLockSQL reads the start of the newest window and the directory type.
	postgresAfterLockSQL = `SELECT (SELECT MAX(valid_from) FROM link_spans WHERE tenant_id = $1 AND object_id = $2), ` + estate.PrincipalTypeSQL("$1", "$2")
	// sqliteReadSQL reads the record, the partner name, the newest window and the directory type.
	sqliteReadSQL = `SELECT COALESCE(l.location_id, ''), COALESCE(l.version, 0), COALESCE(l.state, $3), COALESCE(l.created_at, 0), COALESCE(l.updated_at, 0),
			` + directory.LocationNameSQL("l.location_id") + `,
			(SELECT MAX(valid_from) FROM link_spans WHERE tenant_id = $1 AND object_id = $2),
			` + estate.PrincipalTypeSQL("$1", "$2") + `
		FROM (SELECT 1) LEFT JOIN links l ON l.tenant_id = $1 AND l.object_id = $2`
	// currentSQL reads a record with its partner name (the GET).
	currentSQL = `SELECT l.location_id, l.version, l.state, l.created_at, l.updated_at, ` + directory.LocationNameSQL("l.location_id") + `
		FROM links l WHERE l.tenant_id = $1 AND l.object_id = $2`
	// nameSQL reads a location's name (empty for none: always one row).
	nameSQL = `SELECT ` + directory.LocationNameSQL("$1")
)

var errGroup = &Error{Code: CodeBadRequest, Msg: "groups cannot be linked; link the users or service principals that hold the group's roles"}

func (s *Store) target(ctx context.Context, q store.Querier, partnerID string, at time.Time) (*directory.Location, error) {
	loc, err := directory.Linkable(ctx, q, partnerID, at.UnixNano())
	var nl *directory.NotLinkableError
	if errors.As(err, &nl) {
		e := &Error{Code: CodeBadRequest, Msg: nl.Reason}
		if nl.Organisation {
			e.refusedOrg = nl.ID
		}
		return nil, e
	}
	return loc, err
}

// Actions of Change, as the history and the events name them.
const (
	ActionCreate   = "create"
	ActionUpdate   = "update"
	ActionDelete   = "delete"
	ActionBackfill = "backfill" // an import's change (Backfill)
)

// Create links the caller to partnerID. Linking again to the same ID returns the record
// unchanged; a caller linked to another ID gets a Conflict (use Update to move).
func (s *Store) Create(ctx context.Context, c Caller, partnerID string) (*Link, error) {
	return s.Change(ctx, c, ActionCreate, partnerID)
}

// Update moves the caller's link to partnerID.
func (s *Store) Update(ctx context.Context, c Caller, partnerID string) (*Link, error) {
	return s.Change(ctx, c, ActionUpdate, partnerID)
}

// Delete removes the caller's link to partnerID; the history is kept.
func (s *Store) Delete(ctx context.Context, c Caller, partnerID string) error {
	_, err := s.Change(ctx, c, ActionDelete, partnerID)
	return err
}

// Get returns the caller's active link; with partnerID set, only if it is to that ID.
func (s *Store) Get(ctx context.Context, c Caller, partnerID string) (*Link, error) {
	e, err := s.current(ctx, c)
	if err != nil {
		return nil, err
	}
	l := e.link
	if !e.found || l.State != StateActive {
		return nil, &Error{Code: CodeNotFound, Msg: "this identity is not linked to a partner; PUT /providers/Microsoft.ManagementPartner/partners/{partnerId} creates the link"}
	}
	if partnerID != "" && partnerID != l.PartnerID {
		return nil, &Error{Code: CodeNotFound, Msg: fmt.Sprintf("this identity is not linked to %s (it is linked to %s)", partnerID, l.PartnerID)}
	}
	return &l, nil
}

// current reads the caller's links row with its partner name, from the cache when it has it.
func (s *Store) current(ctx context.Context, c Caller) (cached, error) {
	k := cacheKey{c.TenantID, c.ObjectID}
	e, ok, t := s.Cache.lookup(k)
	if ok {
		return e, nil
	}
	e = cached{found: true}
	l := &e.link
	var created, updated int64
	// Without the request's cancellation: for a context that can be cancelled, database/sql
	// and the SQLite driver each start a goroutine per query to watch it, which made this
	// one-row lookup cost half again as much. It takes microseconds.
	err := s.tx().Prepared(s.DB).QueryRowContext(context.WithoutCancel(ctx), currentSQL,
		c.TenantID, c.ObjectID).Scan(&l.PartnerID, &l.Version, &l.State, &created, &updated, &l.PartnerName)
	if errors.Is(err, sql.ErrNoRows) {
		e = cached{}
	} else if err != nil {
		return e, s.DB.Translate(err)
	}
	l.TenantID, l.ObjectID = c.TenantID, c.ObjectID
	l.CreatedTime, l.UpdatedTime = timeline.Time(created), timeline.Time(updated)
	s.Cache.put(k, t, e)
	return e, nil
}

// unchanged commits a request that changes nothing, reading the partner name of l's location
// into l (already read on SQLite).
func (s *Store) unchanged(ctx context.Context, p groupcommit.Pipe, l *Link, sqlite bool) error {
	if sqlite {
		return p.Commit(ctx, nil)
	}
	return p.Commit(ctx, s.nameBatch(l))
}

// nameBatch reads the partner name of l's location into l.
func (s *Store) nameBatch(l *Link) *groupcommit.Batch {
	var b groupcommit.Batch
	b.QueryRow(func(r groupcommit.Row) error { return r.Scan(&l.PartnerName) }, nameSQL, l.PartnerID)
	return &b
}

// Change is the caller's own change of its link (ActionCreate, ActionUpdate or ActionDelete of
// the link to partnerID), as the link API makes it: the record, the windows, a history row by
// the caller and a link.created, link.updated or link.deleted event, in one transaction shared
// with concurrent changes (see groupcommit). A refusal is an *Error with the ARM code.
func (s *Store) Change(ctx context.Context, c Caller, action, partnerID string) (*Link, error) {
	switch action {
	case ActionCreate, ActionUpdate, ActionDelete:
	default:
		return nil, fmt.Errorf("link: change %q is not create, update or delete", action)
	}
	if c.IDType == "group" {
		return nil, errGroup
	}
	// On PostgreSQL the target's status is read before the transaction, which saves a round
	// trip in it. On SQLite it is read inside, on the connection of the write (whose page cache
	// the commits keep warm, where other connections reload pages after every commit).
	sqlite := s.DB.Engine() == store.SQLite
	var target *directory.Location
	var targetErr error
	lookup := func(q store.Querier, at time.Time) error {
		target, targetErr = s.target(context.WithoutCancel(ctx), q, partnerID, at)
		var le *Error
		if targetErr != nil && !errors.As(targetErr, &le) {
			return targetErr
		}
		return nil
	}
	if action != "delete" && !sqlite {
		if err := lookup(s.tx().Prepared(s.DB), s.now()); err != nil {
			return nil, err
		}
	}
	var out *Link
	// Forget the cached record whatever the outcome: a failed commit may still have landed.
	defer s.Cache.invalidate(cacheKey{c.TenantID, c.ObjectID})
	// Two batches: lock and read, then write (two round trips on PostgreSQL). Concurrent
	// writes share a transaction and its commit (groupcommit.Committer.GroupTx, which rolls back a refused
	// or failed write alone); a write locks only the caller's rows, which the key names.
	err := s.tx().GroupTx(ctx, c.TenantID+"/"+c.ObjectID, func(p groupcommit.Pipe) error {
		out = nil
		now := s.now()
		var cur current
		var lastFrom sql.NullInt64
		var principalType string
		if sqlite {
			if action != "delete" {
				q, ok := groupcommit.PipeQuerier(p)
				if !ok {
					return errors.New("link: the SQLite transaction offers no querier")
				}
				if err := lookup(q, now); err != nil {
					return err
				}
			}
			if err := p.Send(ctx, s.sqliteReadBatch(c, &cur, &lastFrom, &principalType)); err != nil {
				return err
			}
		} else if err := s.postgresLock(ctx, p, c, &cur, &lastFrom, &principalType); err != nil {
			return err
		}
		if principalType == "Group" || principalType == "ForeignGroup" {
			return errGroup
		}
		active := cur.exists && cur.State == StateActive
		var loc *directory.Location
		var err error
		switch action {
		case ActionCreate:
			if active && cur.PartnerID == partnerID {
				out = &cur.Link
				return s.unchanged(ctx, p, &cur.Link, sqlite)
			}
			if active {
				return &Error{Code: CodeConflict, Msg: fmt.Sprintf("this identity is already linked to %s; use PATCH /providers/Microsoft.ManagementPartner/partners/%s to move the link", cur.PartnerID, partnerID)}
			}
			if loc, err = target, targetErr; err != nil {
				return err
			}
		case ActionUpdate:
			if !active {
				return &Error{Code: CodeNotFound, Msg: "this identity has no link to move; create one with PUT"}
			}
			if cur.PartnerID == partnerID {
				out = &cur.Link
				return s.unchanged(ctx, p, &cur.Link, sqlite)
			}
			if loc, err = target, targetErr; err != nil {
				return err
			}
		case ActionDelete:
			if !active || cur.PartnerID != partnerID {
				return &Error{Code: CodeNotFound, Msg: fmt.Sprintf("this identity has no link to %s", partnerID)}
			}
		}
		ns := now.UnixNano()
		// Windows must not be empty: a change in the same nanosecond as the previous one (fast
		// clients, coarse clocks) takes effect one nanosecond later.
		if lastFrom.Valid && ns <= lastFrom.Int64 {
			ns = lastFrom.Int64 + 1
			now = timeline.Time(ns)
		}
		// The previous change may also have been a delete that closed a window later than the
		// clock reading taken before this transaction waited for the row lock: start after it,
		// so windows never overlap and history times follow versions.
		if last := cur.UpdatedTime.UnixNano(); cur.exists && ns <= last {
			ns = last + 1
			now = timeline.Time(ns)
		}
		next := cur.Link
		next.Version = cur.Version + 1
		next.UpdatedTime = now
		if action == "delete" {
			next.State = StateDeleted
		} else {
			next.State, next.PartnerID, next.PartnerName = StateActive, loc.ID, loc.Name
			if !active {
				next.CreatedTime = now
			}
		}
		from := ""
		if active {
			from = cur.PartnerID
		}
		to := next.PartnerID
		if action == "delete" {
			to = ""
		}
		w := write{c: c, next: next, at: ns, lastFrom: lastFrom, action: action, from: from, to: to,
			payload: eventPayload(c.TenantID, c.ObjectID, action, from, to, next.Version, ns, c.RequestID)}
		writes := w.sqlite
		if !sqlite {
			writes = w.postgres
		}
		if err := p.Commit(ctx, writes()); err != nil {
			return err
		}
		out = &next
		return nil
	})
	var le *Error
	if errors.As(err, &le) {
		if le.refusedOrg != "" {
			// Recorded after the refused write's transaction, in one of its own: the refusal
			// stands whether or not it is recorded, so a failure to record is not the caller's.
			_ = s.recordRefusal(context.WithoutCancel(ctx), c, action, le.refusedOrg)
		}
		return nil, le
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// write is one link change: the current record, the link windows attribution reads (close
// the open one, open the new one), the history row and the event.
type write struct {
	c                Caller
	next             Link
	at               int64
	lastFrom         sql.NullInt64 // start of the newest window: the only one that can be open
	action, from, to string
	payload          string
}

// sqlite writes with one statement per table (SQLite, where statements cost no round trip).
// The record is upserted: sqliteReadBatch does not create it.
func (w write) sqlite() *groupcommit.Batch {
	c, next := w.c, w.next
	var b groupcommit.Batch
	b.Exec(`INSERT INTO links (tenant_id, object_id, location_id, version, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, object_id) DO UPDATE SET location_id = excluded.location_id, version = excluded.version,
			state = excluded.state, created_at = excluded.created_at, updated_at = excluded.updated_at`,
		c.TenantID, c.ObjectID, next.PartnerID, next.Version, next.State, next.CreatedTime.UnixNano(), w.at)
	if w.lastFrom.Valid {
		b.Exec(`UPDATE link_spans SET valid_to = $3 WHERE tenant_id = $1 AND object_id = $2 AND valid_from = $4 AND valid_to = $5`,
			c.TenantID, c.ObjectID, w.at, w.lastFrom.Int64, timeline.Max)
	}
	if w.action != "delete" {
		b.Exec(`INSERT INTO link_spans (tenant_id, object_id, location_id, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5)`,
			c.TenantID, c.ObjectID, next.PartnerID, w.at, timeline.Max)
	}
	b.Exec(`INSERT INTO link_history (id, tenant_id, object_id, action, from_partner_id, to_partner_id, version, at, by_object_id, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, store.NewID(), c.TenantID, c.ObjectID, w.action, w.from, w.to, next.Version, w.at, c.ObjectID, c.RequestID)
	b.Exec(`INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ($1, $2, $3, $4, $5)`,
		store.NewID(), c.TenantID, EventType(w.action), w.at, w.payload)
	return &b
}

// postgres writes the same rows in one statement of data-modifying CTEs, which PostgreSQL
// plans and runs as one. The parts touch different rows, so reading one snapshot is safe.
func (w write) postgres() *groupcommit.Batch {
	c, next := w.c, w.next
	var b groupcommit.Batch
	b.Exec(`WITH
		cur AS (UPDATE links SET location_id = $3, version = $4, state = $5, created_at = $6, updated_at = $7
			WHERE tenant_id = $1 AND object_id = $2),
		closed AS (UPDATE link_spans SET valid_to = $7
			WHERE tenant_id = $1 AND object_id = $2 AND valid_from = $8 AND valid_to = $9),
		opened AS (INSERT INTO link_spans (tenant_id, object_id, location_id, valid_from, valid_to)
			SELECT $1, $2, $3, $7, $9 WHERE $10),
		history AS (INSERT INTO link_history (id, tenant_id, object_id, action, from_partner_id, to_partner_id, version, at, by_object_id, request_id)
			VALUES ($11, $1, $2, $12, $13, $14, $4, $7, $2, $15))
		INSERT INTO events (id, tenant_id, type, occurred_at, payload) VALUES ($16, $1, $17, $7, $18)`,
		c.TenantID, c.ObjectID, next.PartnerID, next.Version, next.State, next.CreatedTime.UnixNano(), w.at,
		w.lastFrom, timeline.Max, w.action != "delete",
		store.NewID(), w.action, w.from, w.to, c.RequestID,
		store.NewID(), EventType(w.action), w.payload)
	return &b
}
