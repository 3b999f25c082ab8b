package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnerlink/partnerlink/internal/store"
	"github.com/partnerlink/partnerlink/internal/webhook"
)

// stubDNS is a local resolver: no test asks the internet.
type stubDNS struct {
	mu    sync.Mutex
	hosts map[string][]string
}

func (s *stubDNS) set(host string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts[host] = addrs
}

func (s *stubDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list, ok := s.hosts[strings.TrimSuffix(host, ".")]
	if !ok {
		return nil, fmt.Errorf("no such host %s", host)
	}
	var out []netip.Addr
	for _, a := range list {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func newDNS() *stubDNS {
	d := &stubDNS{hosts: map[string][]string{}}
	d.set("hooks.example.com", "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
	d.set("localhost", "127.0.0.1", "::1")
	d.set("internal.example.com", "10.1.2.3")
	d.set("mixed.example.com", "93.184.215.14", "192.168.0.10")
	d.set("metadata.example.com", "169.254.169.254")
	d.set("mapped.example.com", "::ffff:127.0.0.1")
	return d
}

// Every non-public target form is refused by default, with an error that says why.
func TestSSRFMatrix(t *testing.T) {
	p := webhook.Policy{Resolver: newDNS()}
	ctx := context.Background()
	refused := map[string]string{
		"https://10.0.0.1/":                "private",
		"https://172.16.5.4/":              "private",
		"https://192.168.1.1/":             "private",
		"https://127.0.0.1:8080/":          "loopback",
		"https://127.1/":                   "non-standard form",
		"https://2130706433/":              "non-standard form", // decimal 127.0.0.1
		"https://0x7f000001/":              "non-standard form", // hex
		"https://0177.0.0.1/":              "non-standard form", // octal
		"https://017700000001/":            "non-standard form",
		"https://0.0.0.0/":                 "unspecified",
		"https://[::]/":                    "unspecified",
		"https://[::1]/":                   "loopback",
		"https://[::ffff:127.0.0.1]/":      "loopback",
		"https://[::ffff:7f00:1]/":         "loopback",
		"https://[::ffff:10.0.0.1]/":       "private",
		"https://[::ffff:169.254.169.254]": "link-local",
		"https://169.254.169.254/latest/":  "link-local",
		"https://[fd00:ec2::254]/":         "unique local",
		"https://[fe80::1]/":               "link-local",
		"https://[fe80::1%25eth0]/":        "zone",
		"https://100.64.0.1/":              "carrier-grade NAT",
		"https://224.0.0.1/":               "multicast",
		"https://[ff02::1]/":               "multicast",
		"https://255.255.255.255/":         "broadcast",
		"https://[64:ff9b::a00:1]/":        "private (through NAT64)",
		"https://[2002:a00:1::1]/":         "private (through 6to4)",
		"https://[2001::1]/":               "Teredo",
		"https://localhost/":               "loopback",
		"https://internal.example.com/x":   "private",
		"https://mixed.example.com/":       "private",
		"https://metadata.example.com/":    "link-local",
		"https://mapped.example.com/":      "loopback",
		"https://nowhere.example.com/":     "cannot be resolved",
		"http://hooks.example.com/":        "use https",
		"https://u:p@hooks.example.com/":   "credentials",
		"ftp://hooks.example.com/":         "absolute http(s) URL",
		"/relative":                        "absolute http(s) URL",
		"https://hooks.example.com/#x":     "fragment",
	}
	for raw, why := range refused {
		_, err := p.CheckURL(ctx, raw)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), why) {
			t.Errorf("CheckURL(%s) = %v; want an invalid-URL error saying %q", raw, err, why)
		}
	}
	for _, raw := range []string{"https://hooks.example.com/partnerlink", "https://8.8.8.8/", "https://[2606:4700::1111]/", "https://[64:ff9b::808:808]/"} {
		if _, err := p.CheckURL(ctx, raw); err != nil {
			t.Errorf("CheckURL(%s) = %v; want accepted (public)", raw, err)
		}
	}

	// The operator's allow-list opens its ranges (and plain http to them), nothing else.
	allow, err := webhook.ParseAllowList([]string{"10.0.0.0/8", "fd00:ec2::/32"})
	if err != nil {
		t.Fatal(err)
	}
	p.AllowPrivate = allow
	for _, raw := range []string{"https://internal.example.com/x", "http://10.0.0.1:9000/", "https://[fd00:ec2::254]/", "https://[::ffff:10.0.0.1]/"} {
		if _, err := p.CheckURL(ctx, raw); err != nil {
			t.Errorf("allow-listed CheckURL(%s) = %v", raw, err)
		}
	}
	for _, raw := range []string{"https://127.0.0.1/", "https://169.254.169.254/", "https://mixed.example.com/", "http://hooks.example.com/"} {
		if _, err := p.CheckURL(ctx, raw); err == nil {
			t.Errorf("allow-list 10/8 accepted %s", raw)
		}
	}
	if _, err := webhook.ParseAllowList([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParseAllowList accepted 10.0.0.0/33")
	}
}

// counting is a receiver that counts requests and answers with status.
func counting(status int, hits *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(status)
	}))
}

// The delivery client checks the address it connects to: a loopback receiver is unreachable
// without the allow-list, and a name that resolved to a public address when it was registered
// but resolves to a private one when the delivery connects (DNS rebinding) reaches nothing.
func TestDeliveryClientChecksAtConnectTime(t *testing.T) {
	var hits atomic.Int32
	srv := counting(http.StatusNoContent, &hits)
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	dns := newDNS()
	dns.set("rebind.example.com", "93.184.215.14")
	p := webhook.Policy{Resolver: dns}
	if _, err := p.CheckURL(context.Background(), "https://rebind.example.com:"+port+"/"); err != nil {
		t.Fatalf("registration: %v", err)
	}
	dns.set("rebind.example.com", "127.0.0.1")
	c := p.Client(5 * time.Second)
	for _, u := range []string{srv.URL, "http://rebind.example.com:" + port + "/", "http://localhost:" + port + "/"} {
		resp, err := c.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("POST %s reached the receiver (status %d)", u, resp.StatusCode)
		} else if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("POST %s: %v; want a refusal naming loopback", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("receiver got %d requests; want none", n)
	}
	p.AllowPrivate = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	resp, err := p.Client(5*time.Second).Post("http://rebind.example.com:"+port+"/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("allow-listed POST: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("allow-listed receiver got %d requests; want 1", hits.Load())
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var hits atomic.Int32
	target := counting(http.StatusNoContent, &hits)
	defer target.Close()
	bounce := httptest.NewServer(http.RedirectHandler(target.URL+"/internal", http.StatusFound))
	defer bounce.Close()
	p := webhook.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	resp, err := p.Client(5*time.Second).Post(bounce.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 0 {
		t.Fatalf("status %d, redirect target hit %d times; want the 302 returned and the target untouched", resp.StatusCode, hits.Load())
	}
}

// Whatever the URL, CheckURL never panics, and an accepted URL names only public addresses
// (an IP literal, or a name the resolver maps to public addresses only).
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "https://10.0.0.1/", "https://[::ffff:127.0.0.1]/", "https://0x7f.1/",
		"http://localhost:80/", "https://[fe80::1%25en0]/", "https://[64:ff9b::a00:1]/", "https://8.8.8.8:443/a?b#c", "https://u@h/"} {
		f.Add(s)
	}
	dns := newDNS()
	p := webhook.Policy{Resolver: dns}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := p.CheckURL(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("CheckURL(%q) = %v; want an invalid-input error", raw, err)
			}
			return
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("accepted %q normalised to %q, which does not parse", raw, u)
		}
		addrs, err := dns.LookupNetIP(context.Background(), "ip", parsed.Hostname())
		if a, perr := netip.ParseAddr(parsed.Hostname()); perr == nil {
			addrs, err = []netip.Addr{a}, nil
		}
		if err != nil {
			t.Fatalf("accepted %q, whose host %q does not resolve", raw, parsed.Hostname())
		}
		for _, a := range addrs {
			if p.Allowed(a) != nil {
				t.Fatalf("accepted %q, which reaches %s", raw, a)
			}
		}
	})
}
