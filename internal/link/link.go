// Package link holds Partner Admin Links: (tenant, principal) -> partner location, their
// history, and the rules of who may change them.
package link

import (
	"time"

	"github.com/partnerlink/partnerlink/internal/timeline"
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
	PartnerName string
	Version     int64 // also the ARM etag; +1 on each write
	CreatedTime time.Time
	UpdatedTime time.Time
	State       string
}

// Change is one append-only history row of a link.
type Change struct {
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
