// Package link holds Partner Admin Links: (tenant, principal) -> partner location, their
// history, the rules of who may change them, and the events their changes emit. It owns the
// tables links, link_history, link_spans, link_refusals and events: Store is the way in.
package link

import (
	"time"

	"github.com/partnerlink/partnerlink/internal/store/table"
	"github.com/partnerlink/partnerlink/internal/timeline"
)

// The link tables an estate import writes: SpansTable through the import's generic diff and
// bulk load, the others through Backfill (exported so the import can lock them).
var (
	SpansTable   = &table.Table{Name: "link_spans", Key: []string{"tenant_id", "object_id"}, Values: []string{"location_id"}, Windowed: true}
	LinksTable   = &table.Table{Name: "links", Key: []string{"tenant_id", "object_id"}, Values: []string{"location_id", "version", "state", "created_at", "updated_at"}}
	HistoryTable = &table.Table{Name: "link_history", Key: []string{"id"}, Values: []string{"tenant_id", "object_id", "action", "from_partner_id", "to_partner_id", "version", "at", "by_object_id", "request_id"}}
	eventsTable  = &table.Table{Name: "events", Key: []string{"id"}, Values: []string{"tenant_id", "type", "occurred_at", "payload"}}
)

// Span is one window in which a principal was linked to a location. Attribution reads spans;
// the API writes them (closing the old span and opening a new one on every change) and estate
// imports can backfill them.
type Span struct {
	TenantID   string
	ObjectID   string
	LocationID string
	Valid      timeline.Window
}

// State of a link as the ARM API reports it.
const (
	StateActive  = "Active"
	StateDeleted = "Deleted"
)

// Link is the current ARM-visible record of a principal's link.
type Link struct {
	TenantID    string
	ObjectID    string
	PartnerID   string // location ID
	PartnerName string // the location's name
	OrgName     string // the name of the location's organisation (set by the lists of Store)
	Version     int64  // also the ARM etag; +1 on each write
	CreatedTime time.Time
	UpdatedTime time.Time
	State       string
}

// HistoryEntry is one append-only history row of a link.
type HistoryEntry struct {
	ID            string
	TenantID      string
	ObjectID      string
	Action        string // create, update, delete, backfill
	FromPartnerID string
	ToPartnerID   string
	Version       int64
	At            time.Time
	By            string // object ID of the caller, or "import"
	RequestID     string
}
