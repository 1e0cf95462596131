package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// parseConfig parses src with {{name}} replaced by vars.
func parseConfig(t testing.TB, src string, vars map[string]string) *config.Config {
	t.Helper()
	for k, v := range vars {
		src = strings.ReplaceAll(src, "{{"+k+"}}", v)
	}
	cfg, diags := config.Parse([]byte(src), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	return cfg
}

const twoUpstreamsConfig = `
listener "public" { address = "127.0.0.1:0" }
upstream "a" { servers = ["ws://{{a}}"] }
upstream "b" { servers = ["ws://{{b}}"] }
route "all" {
  path     = "/"
  upstream = "{{route_to}}"
}
`

func TestReload_NewConnectionsGetTheNewConfiguration(t *testing.T) {
	a := startUpstream(t, nil, prefixHandler("a:"))
	b := startUpstream(t, nil, prefixHandler("b:"))
	vars := map[string]string{"a": a.addr, "b": b.addr, "route_to": "a"}
	p, addr := startProxy(t, twoUpstreamsConfig, vars)
	before, _ := dialProxy(t, "ws://"+addr+"/", nil)
	defer before.CloseNow()
	expectRoundTrip(t, before, "1", "a:1")

	vars["route_to"] = "b"
	if err := p.Reload(parseConfig(t, twoUpstreamsConfig, vars)); err != nil {
		t.Fatal(err)
	}
	if got := p.Generation(); got != 2 {
		t.Errorf("Generation() = %d after one reload, want 2", got)
	}
	if got := p.Addr("public").String(); got != addr {
		t.Errorf("the listener moved from %s to %s: a reload must keep an unchanged listener's socket", addr, got)
	}
	after, _ := dialProxy(t, "ws://"+addr+"/", nil)
	defer after.CloseNow()
	expectRoundTrip(t, after, "2", "b:2")
	// The connection opened before keeps its route.
	expectRoundTrip(t, before, "3", "a:3")

	total, conns := p.Connections(0, 10)
	if total != 2 || len(conns) != 2 || conns[0].Generation != 1 || conns[1].Generation != 2 ||
		conns[0].Upstream != "a" || conns[1].Upstream != "b" {
		t.Errorf("Connections() = %d, %+v; want the first on generation 1 and upstream a, the second on 2 and b", total, conns)
	}
}

func TestReload_FailureKeepsTheRunningConfiguration(t *testing.T) {
	a := startUpstream(t, nil, prefixHandler("a:"))
	b := startUpstream(t, nil, prefixHandler("b:"))
	vars := map[string]string{"a": a.addr, "b": b.addr, "route_to": "a"}
	p, addr := startProxy(t, twoUpstreamsConfig, vars)
	c, _ := dialProxy(t, "ws://"+addr+"/", nil)
	defer c.CloseNow()

	// A new listener that cannot be opened: its address is the upstream's.
	broken := `
listener "public" { address = "127.0.0.1:0" }
listener "second" { address = "{{b}}" }
upstream "b" { servers = ["ws://{{b}}"] }
route "all" {
  listener = "public"
  upstream = "b"
}
route "second" {
  listener = "second"
  upstream = "b"
}
`
	err := p.Reload(parseConfig(t, broken, vars))
	if err == nil || !strings.Contains(err.Error(), `listener "second"`) {
		t.Fatalf("Reload with a listener that cannot be opened: %v, want an error naming it", err)
	}
	loadErr := errors.New("broken.hcl:3,1: Unknown upstream")
	if err := p.ReloadFrom(func() (*config.Config, error) { return nil, loadErr }); !errors.Is(err, loadErr) {
		t.Fatalf("ReloadFrom with a failing load: %v, want %v", err, loadErr)
	}
	if got := p.Generation(); got != 1 {
		t.Errorf("Generation() = %d after failed reloads, want 1", got)
	}
	expectRoundTrip(t, c, "1", "a:1")
	c2, _ := dialProxy(t, "ws://"+addr+"/", nil)
	defer c2.CloseNow()
	expectRoundTrip(t, c2, "2", "a:2")
	if got := counterValue(t, p, "wasmgate_config_reloads_total", map[string]string{"result": "failure"}); got != 2 {
		t.Errorf("wasmgate_config_reloads_total{result=failure} = %v, want 2", got)
	}
	if got := counterValue(t, p, "wasmgate_config_last_reload_successful", nil); got != 0 {
		t.Errorf("wasmgate_config_last_reload_successful = %v after a failure, want 0", got)
	}
}

func TestReload_Listeners(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	one := `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "all" {
  listener = "public"
  upstream = "echo"
}
`
	two := one + `
listener "second" { address = "127.0.0.1:0" }
route "second" {
  listener = "second"
  upstream = "echo"
}
`
	onlySecond := `
listener "second" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "second" {
  listener = "second"
  upstream = "echo"
}
`
	vars := map[string]string{"up": up.addr}
	p, publicAddr := startProxy(t, one, vars)
	onPublic, _ := dialProxy(t, "ws://"+publicAddr+"/", nil)
	defer onPublic.CloseNow()

	if err := p.Reload(parseConfig(t, two, vars)); err != nil {
		t.Fatal(err)
	}
	second := p.Addr("second")
	if second == nil {
		t.Fatal("the listener the reload added is not open")
	}
	if p.Addr("public").String() != publicAddr {
		t.Errorf("listener public moved")
	}
	c, _ := dialProxy(t, "ws://"+second.String()+"/", nil)
	defer c.CloseNow()
	expectRoundTrip(t, c, "via second", "via second")

	if err := p.Reload(parseConfig(t, onlySecond, vars)); err != nil {
		t.Fatal(err)
	}
	if p.Addr("second").String() != second.String() {
		t.Errorf("listener second moved")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, _, err := (&codec.Dialer{}).Dial(ctx, "ws://"+publicAddr+"/"); err == nil {
		c.CloseNow()
		t.Error("listener public still accepts after a reload removed it")
	}
	// Its connection goes on.
	expectRoundTrip(t, onPublic, "still here", "still here")
}

// TestReload_NoConnectionDropped reloads again and again while clients
// send and new clients connect: every message comes back, in order, and
// no connection is closed or refused.
func TestReload_NoConnectionDropped(t *testing.T) {
	a := startUpstream(t, nil, echoHandler)
	b := startUpstream(t, nil, echoHandler)
	vars := map[string]string{"a": a.addr, "b": b.addr, "route_to": "a"}
	p, addr := startProxy(t, twoUpstreamsConfig, vars)
	cfgs := []*config.Config{}
	for _, to := range []string{"b", "a"} {
		vars["route_to"] = to
		cfgs = append(cfgs, parseConfig(t, twoUpstreamsConfig, vars))
	}

	const clients, reloads = 8, 20
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, clients+1)
	var sent atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := (&codec.Dialer{}).Dial(context.Background(), "ws://"+addr+"/")
			if err != nil {
				errs <- err
				return
			}
			defer c.CloseNow()
			for n := 0; !stop.Load(); n++ {
				want := fmt.Sprintf("client %d message %d", i, n)
				if err := c.WriteMessage(codec.Text, []byte(want)); err != nil {
					errs <- fmt.Errorf("client %d: write: %w", i, err)
					return
				}
				c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
				_, got, err := c.ReadMessage()
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("client %d: read %q, %v; want %q", i, got, err, want)
					return
				}
				sent.Add(1)
			}
		}()
	}
	// And a client that connects anew all along.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, _, err := (&codec.Dialer{}).Dial(ctx, "ws://"+addr+"/")
			cancel()
			if err != nil {
				errs <- fmt.Errorf("a new connection during the reloads: %w", err)
				return
			}
			c.Close(codec.CloseNormal, "") //nolint:errcheck // the next dial matters
		}
	}()

	for i := range reloads {
		if err := p.Reload(cfgs[i%2]); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p.Generation() != reloads+1 || sent.Load() == 0 {
		t.Errorf("generation %d, %d round trips", p.Generation(), sent.Load())
	}
}

// TestReload_LivePlugin: a plugin marked live moves its open connections
// to its new version; one that is not keeps them on the old one.
func TestReload_LivePlugin(t *testing.T) {
	guest, cache := guestPath(t), t.TempDir()
	up := startUpstream(t, nil, echoHandler)
	src := `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
plugin "live" {
  wasm      = "{{guest}}"
  cache_dir = "{{cache}}"
  config    = { tag = "live-{{version}}" }
  reload    = "live"
  timeout   = "1s" # a Go guest: a collection may pause a call past 5ms
}
plugin "restart" {
  wasm      = "{{guest}}"
  cache_dir = "{{cache}}"
  config    = { tag = "restart-{{version}}" }
  timeout   = "1s"
}
route "live" {
  path     = "/live"
  upstream = "echo"
  filters  = ["live"]
}
route "restart" {
  path     = "/restart"
  upstream = "echo"
  filters  = ["restart"]
}
`
	vars := map[string]string{"up": up.addr, "guest": guest, "cache": cache, "version": "1"}
	p, addr := startProxy(t, src, vars)
	live, _ := dialProxy(t, "ws://"+addr+"/live", nil)
	defer live.CloseNow()
	restart, _ := dialProxy(t, "ws://"+addr+"/restart", nil)
	defer restart.CloseNow()
	expectConfigTag(t, live, "live-1")
	expectConfigTag(t, restart, "restart-1")

	vars["version"] = "2"
	if err := p.Reload(parseConfig(t, src, vars)); err != nil {
		t.Fatal(err)
	}
	expectConfigTag(t, live, "live-2")
	expectConfigTag(t, restart, "restart-1")
	fresh, _ := dialProxy(t, "ws://"+addr+"/restart", nil)
	defer fresh.CloseNow()
	expectConfigTag(t, fresh, "restart-2")

	// A version whose start fails is refused: everything stays on 2.
	broken := strings.Replace(src, `tag = "live-{{version}}"`, `tag = "live-{{version}}", fail_start = true`, 1)
	vars["version"] = "3"
	err := p.Reload(parseConfig(t, broken, vars))
	if err == nil || !strings.Contains(err.Error(), `plugin "live"`) {
		t.Fatalf("Reload with a plugin whose start fails: %v, want an error naming it", err)
	}
	if p.Generation() != 2 {
		t.Errorf("generation %d after a failed reload, want 2", p.Generation())
	}
	expectConfigTag(t, live, "live-2")
	again, _ := dialProxy(t, "ws://"+addr+"/live", nil)
	defer again.CloseNow()
	expectConfigTag(t, again, "live-2")
}

// expectConfigTag checks the tag in the config the guest on c runs with.
func expectConfigTag(t *testing.T, c *codec.Conn, tag string) {
	t.Helper()
	got := roundTrip(t, c, "cmd:config")
	if !strings.Contains(got, `"tag":"`+tag+`"`) {
		t.Fatalf("cmd:config answered %q, want the tag %q", got, tag)
	}
}

// TestReload_RotatesTheCertificate: a reload gives a wss listener the
// certificate its files hold now, on the same socket.
func TestReload_RotatesTheCertificate(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	oldDir, newDir := t.TempDir(), t.TempDir()
	oldCA, oldCert, oldKey := testCA(t, oldDir)
	newCA, newCert, newKey := testCA(t, newDir)
	src := `
listener "public" {
  address = "127.0.0.1:0"
  tls {
    cert_file = "{{cert}}"
    key_file  = "{{key}}"
  }
}
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" { upstream = "echo" }
`
	vars := map[string]string{"cert": oldCert, "key": oldKey, "up": up.addr}
	p, addr := startProxy(t, src, vars)
	trusting := func(caFile string) *codec.Dialer {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(caFile)
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("CA %s: %v", caFile, err)
		}
		return &codec.Dialer{TLSConfig: &tls.Config{RootCAs: pool}}
	}
	dialTLS := func(d *codec.Dialer) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := d.Dial(ctx, "wss://"+addr+"/")
		if err == nil {
			c.CloseNow()
		}
		return err
	}
	if err := dialTLS(trusting(oldCA)); err != nil {
		t.Fatalf("before the reload, with the old CA: %v", err)
	}
	if err := dialTLS(trusting(newCA)); err == nil {
		t.Fatal("before the reload, a client trusting only the new CA connected")
	}
	vars["cert"], vars["key"] = newCert, newKey
	if err := p.Reload(parseConfig(t, src, vars)); err != nil {
		t.Fatal(err)
	}
	if err := dialTLS(trusting(newCA)); err != nil {
		t.Fatalf("after the reload, with the new CA: %v", err)
	}
	if err := dialTLS(trusting(oldCA)); err == nil {
		t.Fatal("after the reload, the old certificate is still served")
	}
}

// TestReload_ServesWhileLoading: while a reload starts a slow plugin, the
// proxy stays ready and serves with the running configuration.
func TestReload_ServesWhileLoading(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	var logs lockedBuffer
	p, addr := startProxyLogging(t, simpleConfig, map[string]string{"up": up.addr}, slog.New(slog.NewTextHandler(&logs, nil)))
	slow := simpleConfig + `
plugin "slow" {
  wasm      = "{{guest}}"
  instances = 1
  config    = { start_sleep_ms = 3000 }
}
route "slow" {
  path     = "/slow"
  upstream = "echo"
  filters  = ["slow"]
}
`
	cfg := parseConfig(t, strings.Replace(slow, `path     = "/"`, `path     = "/plain"`, 1),
		map[string]string{"up": up.addr, "guest": guestPath(t)})
	done := make(chan error, 1)
	go func() { done <- p.Reload(cfg) }()
	// Compiling the guest comes first: seconds, and over ten under the
	// race detector.
	for deadline := time.Now().Add(2 * time.Minute); len(logs.lines("start: sleeping")) == 0; {
		select {
		case err := <-done:
			t.Fatalf("the reload ended (%v) before the plugin's start", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow plugin never started")
		}
	}
	if !p.Ready() {
		t.Error("not ready while a reload loads a plugin")
	}
	c, _ := dialProxy(t, "ws://"+addr+"/any", nil)
	defer c.CloseNow()
	expectRoundTrip(t, c, "during", "during")
	select {
	case err := <-done:
		t.Fatalf("the reload ended (%v) before the checks: the plugin's start did not hold it", err)
	default:
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Generation() != 2 {
		t.Errorf("generation %d", p.Generation())
	}
}
