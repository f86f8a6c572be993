// tailnet-lab: Tailscale's own test control server (testcontrol) plus a DERP/STUN relay on loopback, and a small
// control API the keyless tests drive (grants, expiry, deletion). It prints one JSON line with its URLs on stdout
// and runs until stdin closes or it is signalled, so a test that dies never leaves it behind.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"tailscale.com/derp/derpserver"
	"tailscale.com/net/stun"
	"tailscale.com/net/tsaddr"
	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/key"
	"tailscale.com/types/logger"
)

// The named packet filter the lab owns on every node: full map responses only replace the "base" filter, so grants
// sent here survive them (tailcfg.MapResponse.PacketFilters).
const grantFilter = "keyless-lab-grants"

// Rule is one grant in the shape of a tailnet policy file's "grants" entry, app capabilities only.
type Rule struct {
	Src []string                                        `json:"src"` // "*", "tag:x", a hostname or an IP
	Dst []string                                        `json:"dst"` // same forms
	App map[tailcfg.PeerCapability][]tailcfg.RawMessage `json:"app"`
}

type lab struct {
	control *testcontrol.Server
	conns   connSet
	mu      sync.Mutex
	grants  []Rule
	keys    []keyRequest
}

func main() {
	tagOwners := flag.String("tag-owners", `{}`, `tag owners as in a policy file, e.g. {"tag:ci":["tag:admin"]}`)
	verbose := flag.Bool("verbose", false, "log control server activity to stderr")
	flag.Parse()

	owners := map[string][]string{}
	if err := json.Unmarshal([]byte(*tagOwners), &owners); err != nil {
		log.Fatalf("tailnet-lab: --tag-owners: %v", err)
	}
	logf := logger.Discard
	if *verbose {
		logf = log.Printf
	}

	derpMap, derpURL, stunAddr := startDERPAndSTUN(logf)
	authKey := "tskey-auth-lab-" + randomHex(12)
	l := &lab{conns: connSet{conns: map[net.Conn]bool{}}}
	l.control = &testcontrol.Server{
		DERPMap:        derpMap,
		RequireAuthKey: authKey,
		TagOwners:      owners,
		// testcontrol always sends this Domain; MagicDNS names must end in it for serve to match its Host.
		MagicDNSDomain: "fake-control.example.net",
		AllOnline:      true,
		Logf:           logf,
	}
	// Every new map stream starts with the grants that concern this node, as a real control server would send.
	l.control.ModifyFirstMapResponse = func(res *tailcfg.MapResponse, _ *tailcfg.MapRequest) {
		if res.Node != nil {
			res.PacketFilters = map[string][]tailcfg.FilterRule{grantFilter: l.filterFor(res.Node)}
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("tailnet-lab: listen: %v", err)
	}
	controlURL := "http://" + ln.Addr().String()
	l.control.ExplicitBaseURL = controlURL
	mux := http.NewServeMux()
	mux.Handle("/lab/", l.api())
	l.wifAPI(mux, authKey)
	mux.Handle("/", l.control)
	srv := &http.Server{Handler: mux, ConnState: l.conns.track}
	go func() { log.Fatal(srv.Serve(ln)) }()

	json.NewEncoder(os.Stdout).Encode(map[string]string{
		"controlURL": controlURL,
		"labURL":     controlURL + "/lab",
		"derpURL":    derpURL,
		"stunAddr":   stunAddr,
		"authKey":    authKey,
	})

	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		done <- syscall.SIGTERM
	}()
	<-done
}

func startDERPAndSTUN(logf logger.Logf) (*tailcfg.DERPMap, string, string) {
	d := derpserver.New(key.NewNode(), logf)
	srv := httptest.NewUnstartedServer(derpserver.Handler(d))
	srv.Config.ErrorLog = logger.StdLogger(logf)
	srv.StartTLS()
	derpPort := srv.Listener.Addr().(*net.TCPAddr).Port

	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("tailnet-lab: stun: %v", err)
	}
	go serveSTUN(pc)
	stunPort := pc.LocalAddr().(*net.UDPAddr).Port

	m := &tailcfg.DERPMap{Regions: map[int]*tailcfg.DERPRegion{1: {
		RegionID: 1, RegionCode: "lab", RegionName: "keyless lab",
		Nodes: []*tailcfg.DERPNode{{
			Name: "lab1", RegionID: 1, HostName: "127.0.0.1", IPv4: "127.0.0.1", IPv6: "none",
			STUNPort: stunPort, DERPPort: derpPort, InsecureForTests: true, STUNTestIP: "127.0.0.1",
		}},
	}}}
	return m, srv.URL, pc.LocalAddr().String()
}

func serveSTUN(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		txid, err := stun.ParseBindingRequest(buf[:n])
		if err != nil {
			continue
		}
		ua := addr.(*net.UDPAddr)
		ip, _ := netip.AddrFromSlice(ua.IP)
		pc.WriteTo(stun.Response(txid, netip.AddrPortFrom(ip.Unmap(), uint16(ua.Port))), addr)
	}
}

// --- grants -------------------------------------------------------------------------------------------------------

// matches reports whether a policy selector names node n.
func matches(sel string, n *tailcfg.Node) bool {
	if sel == "*" || slices.Contains(n.Tags, sel) || (n.Hostinfo.Valid() && n.Hostinfo.Hostname() == sel) {
		return true
	}
	if ip, err := netip.ParseAddr(sel); err == nil {
		return slices.ContainsFunc(n.Addresses, func(p netip.Prefix) bool { return p.Addr() == ip })
	}
	return false
}

// filterFor compiles the grants whose dst selects node into packet-filter rules with their sources' addresses.
func (l *lab) filterFor(node *tailcfg.Node) []tailcfg.FilterRule {
	l.mu.Lock()
	grants := slices.Clone(l.grants)
	l.mu.Unlock()
	nodes := l.control.AllNodes()
	rules := []tailcfg.FilterRule{}
	for _, g := range grants {
		if !slices.ContainsFunc(g.Dst, func(s string) bool { return matches(s, node) }) {
			continue
		}
		var srcs []string
		for _, sel := range g.Src {
			if sel == "*" {
				srcs = append(srcs, "*")
				continue
			}
			for _, n := range nodes {
				if matches(sel, n) {
					for _, a := range n.Addresses {
						srcs = append(srcs, a.String())
					}
				}
			}
		}
		if len(srcs) == 0 {
			continue
		}
		rules = append(rules, tailcfg.FilterRule{
			SrcIPs:   srcs,
			CapGrant: []tailcfg.CapGrant{{Dsts: []netip.Prefix{tsaddr.AllIPv4(), tsaddr.AllIPv6()}, CapMap: g.App}},
		})
	}
	return rules
}

// pushGrants makes every node fetch its grants again. testcontrol computes the base packet filter itself and an
// injected map response (AddRawMapResponse) stops its automatic updates to that node for good, so the lab drops the
// nodes' control connections instead: each tailscaled reconnects and its new map stream starts with the new grants.
func (l *lab) pushGrants(keep string) {
	l.conns.closeAllExcept(keep)
}

// connSet tracks the control server's open connections (tailscaled's long polls among them).
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (c *connSet) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateNew:
		c.conns[conn] = true
	case http.StateClosed:
		delete(c.conns, conn)
		// Hijacked connections (the Noise upgrade carrying the long polls) stay tracked until closeAllExcept.
	}
}

func (c *connSet) closeAllExcept(remote string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		if conn.RemoteAddr().String() != remote {
			conn.Close()
			delete(c.conns, conn)
		}
	}
}

// --- node removal ---------------------------------------------------------------------------------------------------

// deleteNode removes a node as the admin console's "Remove" does. testcontrol has no API for it, so this reaches
// into its private maps (the module version is pinned in go.mod), then triggers a netmap update for everyone.
func (l *lab) deleteNode(nk key.NodePublic) {
	v := reflect.ValueOf(l.control).Elem()
	field := func(name string) reflect.Value {
		f := v.FieldByName(name)
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	}
	mu := field("mu").Addr().Interface().(*sync.Mutex)
	mu.Lock()
	for _, name := range []string{"nodes", "users", "logins"} {
		field(name).SetMapIndex(reflect.ValueOf(nk), reflect.Value{})
	}
	mu.Unlock()
	l.control.AddDNSRecords() // no records: only wakes every map stream so peers drop the node
}

// --- control API ----------------------------------------------------------------------------------------------------

type nodeJSON struct {
	ID        tailcfg.StableNodeID `json:"id"`
	Name      string               `json:"name"`
	Hostname  string               `json:"hostname"`
	Tags      []string             `json:"tags"`
	Addresses []string             `json:"addresses"`
	NodeKey   string               `json:"nodeKey"`
	KeyExpiry *time.Time           `json:"keyExpiry"`
}

func (l *lab) findNode(sel string) (*tailcfg.Node, error) {
	var found []*tailcfg.Node
	for _, n := range l.control.AllNodes() {
		if sel != "*" && (matches(sel, n) || string(n.StableID) == sel) {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%q matches %d nodes, want exactly one", sel, len(found))
	}
	return found[0], nil
}

func (l *lab) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /lab/nodes", func(w http.ResponseWriter, r *http.Request) {
		out := []nodeJSON{}
		for _, n := range l.control.AllNodes() {
			j := nodeJSON{ID: n.StableID, Name: n.Name, Tags: n.Tags, NodeKey: n.Key.String()}
			if n.Hostinfo.Valid() {
				j.Hostname = n.Hostinfo.Hostname()
			}
			for _, a := range n.Addresses {
				j.Addresses = append(j.Addresses, a.Addr().String())
			}
			if !n.KeyExpiry.IsZero() {
				j.KeyExpiry = &n.KeyExpiry
			}
			out = append(out, j)
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("PUT /lab/grants", func(w http.ResponseWriter, r *http.Request) {
		var grants []Rule
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&grants); err != nil {
			http.Error(w, "grants: "+err.Error(), http.StatusBadRequest)
			return
		}
		l.mu.Lock()
		l.grants = grants
		l.mu.Unlock()
		l.pushGrants(r.RemoteAddr)
		writeJSON(w, map[string]int{"rules": len(grants)})
	})
	mux.HandleFunc("GET /lab/keys", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		writeJSON(w, append([]keyRequest{}, l.keys...))
	})
	mux.HandleFunc("POST /lab/nodes/{node}/expire", func(w http.ResponseWriter, r *http.Request) {
		n, err := l.findNode(r.PathValue("node"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		// As the production control server sends an expired peer: flagged, without endpoints or home DERP. Peers'
		// tailscaled would not flag it themselves here: testcontrol's fixed 2020 ControlTime makes their clock-skew
		// check (ipnlocal flagExpiredPeers) skip every peer.
		n.KeyExpiry = time.Now().Add(-time.Minute)
		n.Expired = true
		n.Endpoints = nil
		n.HomeDERP = 0
		l.control.UpdateNode(n)
		writeJSON(w, map[string]string{"expired": string(n.StableID)})
	})
	mux.HandleFunc("DELETE /lab/nodes/{node}", func(w http.ResponseWriter, r *http.Request) {
		n, err := l.findNode(r.PathValue("node"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		l.deleteNode(n.Key)
		writeJSON(w, map[string]string{"deleted": string(n.StableID)})
	})
	return mux
}

// --- workload identity federation ------------------------------------------------------------------------------
// The two Tailscale API calls `tailscale up --client-id=… --id-token=…` makes against its --login-server
// (feature/identityfederation): exchange the ID token for an access token, then create an auth key with it. The lab
// accepts any non-empty token (signature checks are Tailscale's side) and records what was asked for.

type keyRequest struct {
	ClientID      string   `json:"clientId"`
	IDToken       string   `json:"idToken"`
	Ephemeral     bool     `json:"ephemeral"`
	Preauthorized bool     `json:"preauthorized"`
	Tags          []string `json:"tags"`
}

func (l *lab) wifAPI(mux *http.ServeMux, authKey string) {
	tokens := map[string]string{} // access token → client id
	mux.HandleFunc("POST /api/v2/oauth/token-exchange", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		clientID, jwt := r.FormValue("client_id"), r.FormValue("jwt")
		if clientID == "" || jwt == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		token := "lab-access-" + randomHex(12)
		l.mu.Lock()
		tokens[token] = clientID + "\x00" + jwt
		l.mu.Unlock()
		writeJSON(w, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600})
	})
	mux.HandleFunc("POST /api/v2/tailnet/{tailnet}/keys", func(w http.ResponseWriter, r *http.Request) {
		// The Tailscale API client sends an API key as the Basic auth user name (client/tailscale APIKey).
		token, _, _ := r.BasicAuth()
		l.mu.Lock()
		who, ok := tokens[token]
		l.mu.Unlock()
		if !ok {
			http.Error(w, `{"message":"invalid access token"}`, http.StatusUnauthorized)
			return
		}
		var req struct {
			Capabilities struct {
				Devices struct {
					Create struct {
						Ephemeral     bool     `json:"ephemeral"`
						Preauthorized bool     `json:"preauthorized"`
						Tags          []string `json:"tags"`
					} `json:"create"`
				} `json:"devices"`
			} `json:"capabilities"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c := req.Capabilities.Devices.Create
		clientID, jwt, _ := strings.Cut(who, "\x00")
		l.mu.Lock()
		l.keys = append(l.keys, keyRequest{ClientID: clientID, IDToken: jwt, Ephemeral: c.Ephemeral, Preauthorized: c.Preauthorized, Tags: c.Tags})
		l.mu.Unlock()
		writeJSON(w, map[string]any{"id": "k" + randomHex(6), "key": authKey, "created": time.Now()})
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
