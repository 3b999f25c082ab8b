package v1

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/partnerlink/partnerlink/internal/timeline"
)

func parseWindow(w WindowJSON) (timeline.Window, error) {
	win := timeline.Always()
	var err error
	if w.From != nil && *w.From != "" {
		if win.From, err = timeline.ParseDateOrTime(*w.From); err != nil {
			return win, fmt.Errorf("from %q: %w; use YYYY-MM-DD or RFC 3339", *w.From, err)
		}
	}
	if w.To != nil && *w.To != "" {
		if win.To, err = timeline.ParseDateOrTime(*w.To); err != nil {
			return win, fmt.Errorf("to %q: %w; use YYYY-MM-DD or RFC 3339", *w.To, err)
		}
	}
	if win.Empty() {
		return win, errors.New("from is not before to")
	}
	return win, nil
}

// checkReceiverURL accepts https URLs, and http only for loopback receivers (local testing):
// secrets and link data must not travel in clear text.
func checkReceiverURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("url %q is not an absolute URL; give https://host/path", s)
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("url %q must use https (http is accepted only for localhost receivers)", s)
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + hex.EncodeToString(b), nil
}
