//go:build !unix

package sqlite

import (
	"os"
	"sync"
)

// Without flock, locks are per process: another process on the same file meets SQLite's busy
// timeout instead of waiting.
var fileLocks sync.Map // path -> *sync.Mutex

func tryLockFile(f *os.File) (bool, error) {
	m, _ := fileLocks.LoadOrStore(f.Name(), &sync.Mutex{})
	return m.(*sync.Mutex).TryLock(), nil
}

func lockFile(f *os.File) error {
	m, _ := fileLocks.LoadOrStore(f.Name(), &sync.Mutex{})
	m.(*sync.Mutex).Lock()
	return nil
}

func unlockFile(f *os.File) error {
	m, _ := fileLocks.LoadOrStore(f.Name(), &sync.Mutex{})
	m.(*sync.Mutex).Unlock()
	return nil
}
