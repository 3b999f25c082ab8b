package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
)

// Resolver looks host names up (net.DefaultResolver; tests use a stub).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy decides where webhooks may send. By default only public addresses over https: a
// customer admin registers the URL, and the server, not the customer, sends the request, so
// a URL pointing inside the operator's network (a database, a cloud metadata service) would
// let a customer reach it. The address is checked when the webhook is registered and again
// when every delivery connects (the dialer's Control hook sees the address actually dialled),
// so a name that resolves elsewhere later (DNS rebinding) gains nothing; redirects are never
// followed.
type Policy struct {
	// AllowPrivate lists non-public ranges the operator allows as targets
	// (--webhook-allow-private), e.g. an internal event bus. Targets inside them may also use
	// plain http.
	AllowPrivate []netip.Prefix
	// Resolver resolves host names; nil: net.DefaultResolver.
	Resolver Resolver
}

// ParseAllowList reads CIDR prefixes (or single addresses) as given to --webhook-allow-private.
func ParseAllowList(items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range items {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--webhook-allow-private %q is neither a CIDR prefix (10.1.0.0/16, fd00::/8) nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (p Policy) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

// nonPublic are the ranges that are not public unicast addresses (IANA's special-purpose
// registries), with what to call them in an error.
var nonPublic = func() []struct {
	p    netip.Prefix
	name string
} {
	var out []struct {
		p    netip.Prefix
		name string
	}
	for _, r := range [][2]string{
		{"0.0.0.0/8", "unspecified (\"this network\")"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared (carrier-grade NAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (cloud metadata services live here)"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved or broadcast"},
		{"::/96", "unspecified, loopback or IPv4-compatible"},
		{"64:ff9b:1::/48", "local NAT64"},
		{"100::/64", "discard"},
		{"2001::/23", "IETF protocol (Teredo among them)"},
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"5f00::/16", "segment routing"},
		{"fc00::/7", "unique local (private; cloud metadata services live here)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	} {
		out = append(out, struct {
			p    netip.Prefix
			name string
		}{netip.MustParsePrefix(r[0]), r[1]})
	}
	return out
}()

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// nonPublicKind says why a is not a public unicast address, or "" when it is. IPv4 addresses
// embedded in IPv6 (IPv4-mapped, NAT64, 6to4) are judged by the IPv4 address they reach.
func nonPublicKind(a netip.Addr) string {
	if a.Zone() != "" {
		return "scoped (has a zone)"
	}
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			if k := nonPublicKind(netip.AddrFrom4([4]byte(b[12:16]))); k != "" {
				return k + " (through NAT64)"
			}
			return ""
		case sixTo4.Contains(a):
			if k := nonPublicKind(netip.AddrFrom4([4]byte(b[2:6]))); k != "" {
				return k + " (through 6to4)"
			}
			return ""
		}
	}
	for _, r := range nonPublic {
		if r.p.Contains(a) {
			return r.name
		}
	}
	return ""
}

// Allowed reports whether deliveries may connect to a: a public address, or one inside the
// operator's allow-list.
func (p Policy) Allowed(a netip.Addr) error {
	a = a.Unmap()
	for _, ok := range p.AllowPrivate {
		if ok.Contains(a) {
			return nil
		}
	}
	if k := nonPublicKind(a); k != "" {
		return fmt.Errorf("%s is a %s address; webhooks go only to public addresses (an operator may allow a private range with --webhook-allow-private)", a, k)
	}
	return nil
}

func (p Policy) allowListed(a netip.Addr) bool {
	for _, ok := range p.AllowPrivate {
		if ok.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// lookup returns the addresses of host (an IP literal is its own address), each checked.
func (p Policy) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, p.Allowed(a)
	}
	if looksNumeric(host) {
		return nil, fmt.Errorf("host %q looks like an IP address in a non-standard form (decimal, octal or hex); write the address in standard form", host)
	}
	addrs, err := p.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("host %q cannot be resolved: %v", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("host %q has no address", host)
	}
	for _, a := range addrs {
		if err := p.Allowed(a); err != nil {
			return nil, fmt.Errorf("host %q resolves to %w", host, err)
		}
	}
	return addrs, nil
}

// looksNumeric reports a host name whose last label is a number (decimal, 0-prefixed octal
// or 0x hex): no top-level domain is numeric, and C resolvers read such names as IPv4
// addresses (2130706433, 0x7f000001 and 0177.0.0.1 are all 127.0.0.1).
func looksNumeric(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndex(host, ".")+1:]
	if last == "" {
		return false
	}
	if h, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		last = h
		return strings.Trim(last, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// maxURLLen bounds a receiver URL.
const maxURLLen = 2048

// CheckURL validates a receiver URL for registration and returns it normalised. The URL must
// be absolute https (http only to allow-listed addresses) without credentials, and its host
// must resolve only to allowed addresses. Errors wrap store.ErrInvalid and say what to fix.
func (p Policy) CheckURL(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	invalid := func(format string, a ...any) (string, error) {
		return "", store.NewError(store.ErrInvalid, "webhook url "+fmt.Sprintf("%.200q", raw)+": "+fmt.Sprintf(format, a...), nil)
	}
	if len(raw) > maxURLLen {
		return invalid("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return invalid("not an absolute http(s) URL; give https://host/path")
	}
	if u.User != nil {
		return invalid("holds credentials; put none in the URL: deliveries are signed with the webhook's secret")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return invalid("has a #fragment, which is never sent; remove it")
	}
	addrs, err := p.lookup(ctx, u.Hostname())
	if err != nil {
		return invalid("%v", err)
	}
	if u.Scheme == "http" {
		for _, a := range addrs {
			if !p.allowListed(a) {
				return invalid("use https: secrets and link data must not travel in clear text (plain http is accepted only for addresses the operator allows with --webhook-allow-private)")
			}
		}
	}
	return u.String(), nil
}

// Client returns the HTTP client deliveries use: every connection is resolved and checked by
// the policy, the dialled address is checked again by the dialer's Control hook, no proxy is
// used (it would connect on the server's behalf, unchecked), redirects are returned as the
// answer (and count as a failure), and each request ends after timeout.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: p.control}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			addrs, err := p.lookup(ctx, host)
			if err != nil {
				return nil, err
			}
			var errs []error
			for _, a := range addrs {
				c, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
				if err == nil {
					return c, nil
				}
				errs = append(errs, err)
			}
			return nil, errors.Join(errs...)
		},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// control is the dialer's last word: the address about to be connected, whatever resolved it.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook connection to %q: not an address", address)
	}
	return p.Allowed(ap.Addr())
}

// StaticResolver resolves names from a fixed table (host -> addresses), for tests and for
// servers that must not ask DNS. An unknown name does not resolve.
type StaticResolver map[string][]string

// LookupNetIP implements Resolver.
func (s StaticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	list, ok := s[strings.TrimSuffix(strings.ToLower(host), ".")]
	if !ok {
		return nil, fmt.Errorf("no such host %s", host)
	}
	out := make([]netip.Addr, 0, len(list))
	for _, a := range list {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("host %s: %q is not an address", host, a)
		}
		out = append(out, ip)
	}
	return out, nil
}
