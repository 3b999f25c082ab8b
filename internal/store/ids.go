package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewID returns a random, time-ordered text ID (16 hex digits of Unix ns, then 16 random):
// sortable like a sequence without needing one.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x%s", uint64(time.Now().UnixNano()), hex.EncodeToString(b[:]))
}
