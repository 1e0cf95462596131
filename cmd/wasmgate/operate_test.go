package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/guests"
)

// TestBinaryOperate runs the built binary as an operator does: reloads on
// SIGHUP while clients talk through it, the admin endpoints, readiness
// while draining, the access log's rotation, and a scrape by a real
// Prometheus server.
func TestBinaryOperate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGHUP and SIGTERM")
	}
	bin := buildWasmgate(t)

	t.Run("SIGHUP reloads under traffic", func(t *testing.T) { testReloadUnderTraffic(t, bin) })
	t.Run("a broken reload keeps the running config", func(t *testing.T) { testBrokenReload(t, bin) })
	t.Run("admin endpoints", func(t *testing.T) { testAdminEndpoints(t, bin) })
	t.Run("readyz during drain", func(t *testing.T) { testReadyzDuringDrain(t, bin) })
	t.Run("access log", func(t *testing.T) { testAccessLogRotation(t, bin) })
	t.Run("Prometheus scrapes", func(t *testing.T) { testPrometheusScrapes(t, bin) })
	t.Run("SIGHUP during start-up", func(t *testing.T) { testHangupDuringStart(t, bin) })
}

// testHangupDuringStart: a SIGHUP while the proxy starts (its plugin
// takes long to start) does not end the process, as the signal's default
// action would: the proxy reloads once serving.
func testHangupDuringStart(t *testing.T, bin string) {
	echo := startTestEcho(t)
	dir := t.TempDir()
	guest := filepath.Join(dir, "guest.wasm")
	if err := os.WriteFile(guest, guests.Build(t, "plugins/testdata/guest"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "wasmgate.hcl", operateConfig("ws://"+echo.Addr().String()+"/", "/echo/", fmt.Sprintf(`
plugin "slow" {
  wasm      = %q
  cache_dir = %q
  instances = 1
  timeout   = "1s"
  config    = { start_sleep_ms = 1500 }
}
route "slow" {
  path     = "/slow/"
  upstream = "echo"
  filters  = ["slow"]
}
`, guest, filepath.Join(dir, "cache"))))
	s := startServed(t, bin, nil, "run", "-config", path)
	// The guest says when its start begins: the proxy is starting, and
	// has not printed its screen yet.
	s.stderr.waitFor(t, "start: sleeping 1500ms")
	s.signal(t, syscall.SIGHUP)
	s.waitServing(t)
	s.waitGeneration(t, 2)
	roundTrip(t, dial(t, s.url+"/echo/"), "still here")
}

// buildWasmgate builds the binary into the test's temporary directory,
// with the version v9.8.7-test; it skips the test without a go command.
func buildWasmgate(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	bin := filepath.Join(t.TempDir(), "wasmgate")
	build := exec.Command(goTool, "build", "-o", bin, "-ldflags", "-X main.version=v9.8.7-test", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// operateConfig is a configuration with one listener and an admin
// listener on free loopback ports, and the route "echo" with the path
// prefix routePath to the upstream at upstreamURL. extra is appended.
func operateConfig(upstreamURL, routePath, extra string) string {
	return fmt.Sprintf(`
listener "main" {
  address = "127.0.0.1:0"
}

upstream "echo" {
  servers = [%q]
}

route "echo" {
  path     = %q
  upstream = "echo"
}

admin {
  address = "127.0.0.1:0"
}
%s`, upstreamURL, routePath, extra)
}

// served is a wasmgate process serving a configuration with an admin
// listener.
type served struct {
	cmd            *exec.Cmd
	stdout, stderr *output
	exited         chan struct{} // closed when the process has exited
	waitErr        error         // what cmd.Wait returned; read after exited
	url            string        // the listener "main", ws://host:port
	admin          string        // the admin listener, http://host:port
}

// serve starts bin with args and env added to the test's environment,
// and waits until it serves. The test's cleanup kills it.
func serve(t *testing.T, bin string, env []string, args ...string) *served {
	t.Helper()
	s := startServed(t, bin, env, args...)
	s.waitServing(t)
	return s
}

// startServed starts bin with args and env added to the test's
// environment. The test's cleanup kills it.
func startServed(t *testing.T, bin string, env []string, args ...string) *served {
	t.Helper()
	s := &served{cmd: exec.Command(bin, args...), stdout: newOutput(), stderr: newOutput(), exited: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
	return s
}

// waitServing waits until the process prints that it serves.
func (s *served) waitServing(t *testing.T) {
	t.Helper()
	re := regexp.MustCompile(`listener "main" on (ws://\S+)\n(?s:.*)admin on (http://\S+): /metrics[^\n]*\n`)
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for {
		s.stdout.mu.Lock()
		m := re.FindStringSubmatch(s.stdout.buf.String())
		changed := s.stdout.changed
		s.stdout.mu.Unlock()
		if m != nil {
			s.url, s.admin = m[1], m[2]
			return
		}
		select {
		case <-changed:
		case <-s.exited:
			t.Fatalf("wasmgate exited (%v) before serving\nstdout:\n%s\nstderr:\n%s", s.waitErr, s.stdout, s.stderr)
		case <-timeout.C:
			t.Fatalf("wasmgate not serving within %v\nstdout:\n%s\nstderr:\n%s", testTimeout, s.stdout, s.stderr)
		}
	}
}

// wait waits for the process to exit and returns its exit status.
func (s *served) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(testTimeout):
		t.Fatalf("no exit within %v; stderr:\n%s", testTimeout, s.stderr)
	}
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		return ee.ExitCode()
	}
	if s.waitErr != nil {
		t.Fatal(s.waitErr)
	}
	return 0
}

// signal sends sig to the process.
func (s *served) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// generation returns the number of the configuration being served, as
// GET /config says.
func (s *served) generation(t *testing.T) uint64 {
	t.Helper()
	var doc struct {
		Generation uint64 `json:"generation"`
	}
	getJSON(t, s.admin+"/config", &doc)
	return doc.Generation
}

// waitGeneration waits until the configuration served is number want.
func (s *served) waitGeneration(t *testing.T, want uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("configuration generation %d", want), func() error {
		if got := s.generation(t); got != want {
			return fmt.Errorf("generation %d", got)
		}
		return nil
	})
}

// metrics scrapes GET /metrics in the text format, and returns each
// series' value by its name and labels as the format writes them:
// name{a="x",b="y"}, labels sorted by name.
func (s *served) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	status, _, body := do(t, http.MethodGet, s.admin+"/metrics", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", status, body)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("GET /metrics: unreadable line %q", line)
		}
		series[line[:i]] = v
	}
	return series
}

// expectMetrics checks the values of some series of GET /metrics.
func (s *served) expectMetrics(t *testing.T, want map[string]float64) {
	t.Helper()
	got := s.metrics(t)
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("metric %s = %v (present: %v), want %v", name, g, ok, v)
		}
	}
}

// adminHTTP is the client of the admin listeners; its timeout bounds
// every request.
var adminHTTP = &http.Client{Timeout: testTimeout}

// do sends a request and returns the response's status, header and body.
// A transport error fails the test.
func do(t *testing.T, method, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := adminHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// getJSON GETs url, checks that the answer is 200, and decodes its JSON
// body into v.
func getJSON(t *testing.T, url string, v any) string {
	t.Helper()
	status, _, body := do(t, http.MethodGet, url, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
	return body
}

// eventually calls check until it returns nil, and fails the test with
// check's last error when testTimeout passes first.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	eventuallyBefore(t, time.Now().Add(testTimeout), what, check)
}

// eventuallyBefore calls check until it returns nil, and fails the test
// with check's last error when deadline passes first.
func eventuallyBefore(t *testing.T, deadline time.Time, what string, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tryDial connects a WebSocket client to url, with header added to the
// handshake, and returns the error instead of failing the test.
func tryDial(t *testing.T, url string, header http.Header) (*codec.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, _, err := (&codec.Dialer{Header: header}).Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, nil
}

// expectRefused dials url and checks that the handshake is answered with
// the HTTP status want.
func expectRefused(t *testing.T, url string, header http.Header, want int) {
	t.Helper()
	c, err := tryDial(t, url, header)
	if err == nil {
		c.CloseNow()
		t.Fatalf("dial %s: connected, want status %d", url, want)
	}
	var se *codec.StatusError
	if !errors.As(err, &se) || se.Status != want {
		t.Fatalf("dial %s: %v, want status %d", url, err, want)
	}
}

// closeNormally closes c with 1000 and checks that the close handshake
// completes.
func closeNormally(t *testing.T, c *codec.Conn) {
	t.Helper()
	if err := c.Close(codec.CloseNormal, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

// talker is a client that sends messages and checks their echoes, one
// after the other, until it is stopped or something goes wrong.
type talker struct {
	id    int
	c     *codec.Conn
	trips atomic.Int64 // echoes received and checked
	done  chan struct{}
	err   error // why it stopped early; read after done
}

func startTalker(id int, c *codec.Conn, stop <-chan struct{}) *talker {
	tk := &talker{id: id, c: c, done: make(chan struct{})}
	go tk.talk(stop)
	return tk
}

// talk is the talker's goroutine. A short pause between messages leaves
// the two shared CPUs to the proxy's reloads.
func (tk *talker) talk(stop <-chan struct{}) {
	defer close(tk.done)
	pace := time.NewTicker(2 * time.Millisecond)
	defer pace.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-pace.C:
		}
		msg := fmt.Sprintf("client %d message %d", tk.id, i)
		if err := tk.c.WriteMessage(codec.Text, []byte(msg)); err != nil {
			tk.err = fmt.Errorf("client %d: write %q: %w", tk.id, msg, err)
			return
		}
		tk.c.NetConn().SetReadDeadline(time.Now().Add(testTimeout))
		typ, p, err := tk.c.ReadMessage()
		if err != nil {
			tk.err = fmt.Errorf("client %d: read the echo of %q: %w", tk.id, msg, err)
			return
		}
		if typ != codec.Text || string(p) != msg {
			tk.err = fmt.Errorf("client %d: got %v %q, want text %q", tk.id, typ, p, msg)
			return
		}
		tk.trips.Add(1)
	}
}

// failed returns why the talker stopped, or nil while it talks.
func (tk *talker) failed() error {
	select {
	case <-tk.done:
		if tk.err == nil {
			return fmt.Errorf("client %d stopped", tk.id)
		}
		return tk.err
	default:
		return nil
	}
}

// connInfo is an entry of GET /connections.
type connInfo struct {
	ID                 uint64 `json:"id"`
	Listener           string `json:"listener"`
	Route              string `json:"route"`
	Upstream           string `json:"upstream"`
	Path               string `json:"path"`
	Generation         uint64 `json:"config_generation"`
	ToUpstreamMessages uint64 `json:"to_upstream_messages"`
	ToUpstreamBytes    uint64 `json:"to_upstream_bytes"`
	ToClientMessages   uint64 `json:"to_client_messages"`
	ToClientBytes      uint64 `json:"to_client_bytes"`
}

// connectionsPage is the answer to GET /connections.
type connectionsPage struct {
	Total       int        `json:"total"`
	Offset      int        `json:"offset"`
	Limit       int        `json:"limit"`
	Connections []connInfo `json:"connections"`
}

func testReloadUnderTraffic(t *testing.T, bin string) {
	const reloads = 5
	echo := startTestEcho(t)
	echoURL := "ws://" + echo.Addr().String() + "/"
	// Each configuration moves the route to a path of its own, so that a
	// client sees which configuration a new connection gets.
	pathOf := func(gen int) string { return fmt.Sprintf("/v%d/", gen) }
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", operateConfig(echoURL, pathOf(1), ""))
	s := serve(t, bin, nil, "run", "-config", path, "-log-format", "json")

	stop := make(chan struct{})
	var talkers []*talker
	for i := range 4 {
		talkers = append(talkers, startTalker(i, dial(t, s.url+pathOf(1)+strconv.Itoa(i)), stop))
	}
	stopped := false
	stopTalkers := func() {
		if !stopped {
			stopped = true
			close(stop)
			for _, tk := range talkers {
				<-tk.done
			}
		}
	}
	defer stopTalkers()
	// progress waits until every talker has checked an echo more than it
	// had when progress was called.
	progress := func(what string) {
		t.Helper()
		before := make([]int64, len(talkers))
		for i, tk := range talkers {
			before[i] = tk.trips.Load()
		}
		eventually(t, what, func() error {
			for i, tk := range talkers {
				if err := tk.failed(); err != nil {
					t.Fatal(err)
				}
				if tk.trips.Load() == before[i] {
					return fmt.Errorf("client %d has not had an echo since", tk.id)
				}
			}
			return nil
		})
	}
	progress("the clients' first echoes")

	for gen := 2; gen <= reloads+1; gen++ {
		writeFile(t, filepath.Dir(path), filepath.Base(path), operateConfig(echoURL, pathOf(gen), ""))
		s.signal(t, syscall.SIGHUP)
		s.waitGeneration(t, uint64(gen))
		progress(fmt.Sprintf("echoes after reload %d", gen-1))

		// New connections get the new configuration.
		c := dial(t, s.url+pathOf(gen)+"new")
		roundTrip(t, c, fmt.Sprintf("new connection under generation %d", gen))
		closeNormally(t, c)
		expectRefused(t, s.url+pathOf(gen-1)+"new", nil, http.StatusNotFound)
	}

	stopTalkers()
	for _, tk := range talkers {
		if tk.err != nil {
			t.Error(tk.err)
		}
	}
	// The clients of the first configuration are still connected with it.
	eventually(t, "the listing of the clients still open", func() error {
		var page connectionsPage
		getJSON(t, s.admin+"/connections", &page)
		if page.Total != len(talkers) {
			return fmt.Errorf("%d connections open, want %d: %+v", page.Total, len(talkers), page.Connections)
		}
		for _, c := range page.Connections {
			if c.Generation != 1 || !strings.HasPrefix(c.Path, pathOf(1)) {
				return fmt.Errorf("connection %+v, want one of generation 1 on %s", c, pathOf(1))
			}
		}
		return nil
	})
	for _, tk := range talkers {
		closeNormally(t, tk.c)
	}

	if n := strings.Count(s.stderr.String(), `"msg":"configuration reloaded"`); n != reloads {
		t.Errorf("the log says %d times \"configuration reloaded\", want %d:\n%s", n, reloads, s.stderr)
	}
	s.expectMetrics(t, map[string]float64{
		`wasmgate_config_reloads_total{result="success"}`: reloads,
		`wasmgate_config_reloads_total{result="failure"}`: 0,
		`wasmgate_config_last_reload_successful`:          1,
		`wasmgate_config_generation`:                      reloads + 1,
	})
}

func testBrokenReload(t *testing.T, bin string) {
	echo := startTestEcho(t)
	good := operateConfig("ws://"+echo.Addr().String()+"/", "/echo/", "")
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", good)
	s := serve(t, bin, nil, "run", "-config", path, "-log-format", "json")
	c := dial(t, s.url+"/echo/")
	roundTrip(t, c, "before")

	broken := strings.Replace(good, `upstream = "echo"`, `upstream = "nope"`, 1)
	line := strings.Count(broken[:strings.Index(broken, `upstream = "nope"`)], "\n") + 1
	writeFile(t, filepath.Dir(path), filepath.Base(path), broken)
	s.signal(t, syscall.SIGHUP)
	s.stderr.waitFor(t, `"msg":"configuration reload failed`)
	roundTrip(t, c, "after SIGHUP")

	status, _, body := do(t, http.MethodPost, s.admin+"/reload", nil)
	var res struct {
		Status     string `json:"status"`
		Generation uint64 `json:"generation"`
		Error      string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("POST /reload: %v in %s", err, body)
	}
	if at := fmt.Sprintf("%s:%d:", path, line); status != http.StatusUnprocessableEntity ||
		res.Status != "failed" || res.Generation != 1 || !strings.Contains(res.Error, at) {
		t.Errorf("POST /reload: status %d, %s\nwant 422, status failed, generation 1, an error naming %s", status, body, at)
	}
	roundTrip(t, c, "after POST /reload")
	if g := s.generation(t); g != 1 {
		t.Errorf("generation %d after failed reloads, want 1", g)
	}
	// New connections still get the running configuration.
	c2 := dial(t, s.url+"/echo/2")
	roundTrip(t, c2, "a new connection")
	closeNormally(t, c2)
	s.expectMetrics(t, map[string]float64{
		`wasmgate_config_reloads_total{result="success"}`: 0,
		`wasmgate_config_reloads_total{result="failure"}`: 2,
		`wasmgate_config_last_reload_successful`:          0,
		`wasmgate_config_generation`:                      1,
	})

	// Once the file is mended, a reload takes it.
	writeFile(t, filepath.Dir(path), filepath.Base(path), good)
	status, _, body = do(t, http.MethodPost, s.admin+"/reload", nil)
	if status != http.StatusOK || !strings.Contains(body, `"status": "reloaded"`) || !strings.Contains(body, `"generation": 2`) {
		t.Errorf("POST /reload of the mended file: status %d, %s", status, body)
	}
	s.expectMetrics(t, map[string]float64{`wasmgate_config_last_reload_successful`: 1})
	roundTrip(t, c, "after the mended reload")
	closeNormally(t, c)
}

func testAdminEndpoints(t *testing.T, bin string) {
	const secret = "tenant-s3cr3t-6f1d"
	echo := startTestEcho(t)
	// The route "tenant" matches on a header whose value comes from the
	// environment: GET /config must not show it.
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", operateConfig("ws://"+echo.Addr().String()+"/", "/echo/", `
route "tenant" {
  path     = "/tenant/"
  headers  = { "X-Tenant" = env("WASMGATE_TEST_TENANT") }
  upstream = "echo"
}
`))
	s := serve(t, bin, []string{"WASMGATE_TEST_TENANT=" + secret}, "run", "-config", path, "-log-format", "json")

	for _, tt := range []struct {
		path, want string
	}{
		{"/healthz", "ok\n"},
		{"/readyz", "ready\n"},
	} {
		if status, _, body := do(t, http.MethodGet, s.admin+tt.path, nil); status != http.StatusOK || body != tt.want {
			t.Errorf("GET %s: status %d, %q; want 200, %q", tt.path, status, body, tt.want)
		}
	}

	// The secret is in effect: it routes.
	tenant := http.Header{"X-Tenant": {secret}}
	c, err := tryDial(t, s.url+"/tenant/", tenant)
	if err != nil {
		t.Fatalf("dial with the tenant header: %v", err)
	}
	roundTrip(t, c, "tenant")
	closeNormally(t, c)
	expectRefused(t, s.url+"/tenant/", http.Header{"X-Tenant": {"someone else"}}, http.StatusNotFound)

	var doc struct {
		Generation uint64          `json:"generation"`
		Config     json.RawMessage `json:"config"`
	}
	body := getJSON(t, s.admin+"/config", &doc)
	if doc.Generation != 1 || !strings.Contains(string(doc.Config), `"source"`) || !strings.Contains(string(doc.Config), `"tenant"`) {
		t.Errorf("GET /config: %s", body)
	}
	if strings.Contains(body, secret) || !strings.Contains(body, "[redacted]") {
		t.Errorf("GET /config shows the secret, or no [redacted]:\n%s", body)
	}
	for name, out := range map[string]*output{"stdout": s.stdout, "stderr": s.stderr} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("%s shows the secret:\n%s", name, out)
		}
	}

	// One connection open, with known counts.
	c = dial(t, s.url+"/echo/listed")
	msgs := []string{"one", "two", "three!"}
	var size uint64
	for _, m := range msgs {
		roundTrip(t, c, m)
		size += uint64(len(m))
	}
	want := connInfo{
		Listener: "main", Route: "echo", Upstream: "echo", Path: "/echo/listed", Generation: 1,
		ToUpstreamMessages: uint64(len(msgs)), ToUpstreamBytes: size,
		ToClientMessages: uint64(len(msgs)), ToClientBytes: size,
	}
	eventually(t, "GET /connections to list the open connection", func() error {
		var page connectionsPage
		body := getJSON(t, s.admin+"/connections", &page)
		if page.Total != 1 || page.Offset != 0 || page.Limit != 100 || len(page.Connections) != 1 {
			return fmt.Errorf("got %s", body)
		}
		got := page.Connections[0]
		got.ID = 0
		if got != want {
			return fmt.Errorf("got %+v, want %+v", got, want)
		}
		return nil
	})
	var page connectionsPage
	getJSON(t, s.admin+"/connections?offset=1&limit=5", &page)
	if page.Total != 1 || page.Offset != 1 || page.Limit != 5 || len(page.Connections) != 0 {
		t.Errorf("GET /connections?offset=1&limit=5: %+v", page)
	}
	if status, _, body := do(t, http.MethodGet, s.admin+"/connections?limit=x", nil); status != http.StatusBadRequest {
		t.Errorf("GET /connections?limit=x: status %d, %s; want 400", status, body)
	}
	closeNormally(t, c)

	// The log level changes at run time: a connection logs "connected"
	// at debug level.
	connected := `"level":"DEBUG","msg":"connected"`
	if strings.Contains(s.stderr.String(), connected) {
		t.Fatalf("debug lines at level info:\n%s", s.stderr)
	}
	for _, tt := range []struct {
		method, query string
		status        int
		want          string
	}{
		{http.MethodGet, "", http.StatusOK, `"level": "INFO"`},
		{http.MethodPut, "?level=debug", http.StatusOK, `"level": "DEBUG"`},
		{http.MethodGet, "", http.StatusOK, `"level": "DEBUG"`},
		{http.MethodPut, "?level=loud", http.StatusBadRequest, `level "loud"`},
		{http.MethodGet, "", http.StatusOK, `"level": "DEBUG"`},
	} {
		status, _, body := do(t, tt.method, s.admin+"/logging"+tt.query, nil)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s /logging%s: status %d, %s; want %d, %s", tt.method, tt.query, status, body, tt.status, tt.want)
		}
	}
	c = dial(t, s.url+"/echo/debug")
	roundTrip(t, c, "debug")
	closeNormally(t, c)
	s.stderr.waitFor(t, connected)

	for _, tt := range []struct {
		name  string
		block string
		want  int
	}{
		{"pprof on", "  pprof = true\n", http.StatusOK},
		{"pprof off", "", http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			adminBlock := "admin {\n  address = \"127.0.0.1:0\"\n"
			cfg := strings.Replace(operateConfig("ws://"+echo.Addr().String()+"/", "/echo/", ""),
				adminBlock, adminBlock+tt.block, 1)
			path := writeFile(t, t.TempDir(), "wasmgate.hcl", cfg)
			s := serve(t, bin, nil, "run", "-config", path)
			if status, _, body := do(t, http.MethodGet, s.admin+"/debug/pprof/", nil); status != tt.want {
				t.Errorf("GET /debug/pprof/: status %d, want %d: %.200s", status, tt.want, body)
			}
			if listed := strings.Contains(s.stdout.String(), "/debug/pprof/"); listed != (tt.want == http.StatusOK) {
				t.Errorf("the admin line lists /debug/pprof/: %v; stdout:\n%s", listed, s.stdout)
			}
		})
	}
}

func testReadyzDuringDrain(t *testing.T, bin string) {
	echo := startTestEcho(t)
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", operateConfig("ws://"+echo.Addr().String()+"/", "/echo/", `
limits {
  close_timeout = "1m"
}
`))
	s := serve(t, bin, nil, "run", "-config", path, "-drain-timeout", "5s")
	// A client that never answers the close frame keeps the drain going
	// until the drain timeout.
	nc := rawUpgrade(t, strings.TrimPrefix(s.url, "ws://"), "/echo/")
	if status, _, _ := do(t, http.MethodGet, s.admin+"/readyz", nil); status != http.StatusOK {
		t.Fatalf("GET /readyz before the signal: status %d", status)
	}

	s.signal(t, syscall.SIGTERM)
	eventually(t, "GET /readyz to answer 503", func() error {
		if status, _, body := do(t, http.MethodGet, s.admin+"/readyz", nil); status != http.StatusServiceUnavailable {
			return fmt.Errorf("status %d, %q", status, body)
		}
		return nil
	})
	awaitCloseFrame(t, nc)
	// The connection is still draining: the process serves the admin
	// listener, alive and not ready.
	if status, _, body := do(t, http.MethodGet, s.admin+"/readyz", nil); status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while draining: status %d, %q; want 503", status, body)
	}
	if status, _, body := do(t, http.MethodGet, s.admin+"/healthz", nil); status != http.StatusOK {
		t.Errorf("GET /healthz while draining: status %d, %q; want 200", status, body)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", code, s.stderr)
	}
	if want := "drain timeout: cut the connections still open"; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("stderr does not contain %q:\n%s", want, s.stderr)
	}
}

func testAccessLogRotation(t *testing.T, bin string) {
	echo := startTestEcho(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "wasmgate.hcl", operateConfig("ws://"+echo.Addr().String()+"/", "/echo/", ""))
	accessPath := filepath.Join(dir, "access.log")
	s := serve(t, bin, nil, "run", "-config", path, "-log-format", "json", "-access-log", accessPath)

	// talkAndLeave opens a connection, has one message echoed, and closes
	// it with 4000 from the client's side.
	talkAndLeave := func(msg string) {
		t.Helper()
		c := dial(t, s.url+"/echo/"+msg)
		roundTrip(t, c, msg)
		if err := c.Close(4000, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
	talkAndLeave("first")
	checkAccessLine(t, accessPath, "/echo/first")

	rotated := accessPath + ".1"
	if err := os.Rename(accessPath, rotated); err != nil {
		t.Fatal(err)
	}
	s.signal(t, syscall.SIGHUP)
	s.stderr.waitFor(t, `"msg":"configuration reloaded"`)
	talkAndLeave("second")
	checkAccessLine(t, accessPath, "/echo/second")
	if lines := readLines(t, rotated); len(lines) != 1 {
		t.Errorf("the rotated access log has %d lines, want the first connection's only:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if strings.Contains(s.stderr.String(), `"msg":"access"`) {
		t.Errorf("access lines on stderr with -access-log FILE:\n%s", s.stderr)
	}
}

// checkAccessLine waits until the access log at path has a line, and
// checks that it is the only one and tells of a connection to urlPath
// that the client closed with 4000 "bye" after one message.
func checkAccessLine(t *testing.T, path, urlPath string) {
	t.Helper()
	var lines []string
	eventually(t, "the access log line in "+path, func() error {
		if lines = readLines(t, path); len(lines) == 0 {
			return errors.New("no line")
		}
		return nil
	})
	if len(lines) != 1 {
		t.Fatalf("%s has %d lines, want 1:\n%s", path, len(lines), strings.Join(lines, "\n"))
	}
	var e struct {
		Msg                string `json:"msg"`
		Route              string `json:"route"`
		Path               string `json:"path"`
		Status             int    `json:"status"`
		Code               int    `json:"code"`
		Reason             string `json:"reason"`
		ClosedBy           string `json:"closed_by"`
		ToUpstreamMessages int    `json:"to_upstream_messages"`
		ToClientMessages   int    `json:"to_client_messages"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatalf("%s: %v in %s", path, err, lines[0])
	}
	if e.Msg != "access" || e.Route != "echo" || e.Path != urlPath || e.Status != 101 || e.Code != 4000 ||
		e.Reason != "bye" || e.ClosedBy != "client" || e.ToUpstreamMessages != 1 || e.ToClientMessages != 1 {
		t.Errorf("access line %s\nwant msg access, route echo, path %s, status 101, code 4000, reason bye, closed_by client, one message each way", lines[0], urlPath)
	}
}

// readLines returns the lines of the file at path; none when it does not
// exist yet.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// prometheusAccept is the Accept header Prometheus 2.x scrapes with.
const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

func testPrometheusScrapes(t *testing.T, bin string) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no prometheus on PATH, and .ci/run installs it:", err)
		}
		t.Skip("no prometheus on PATH (.ci/run installs it):", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	echo := startTestEcho(t)
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", operateConfig("ws://"+echo.Addr().String()+"/", "/echo/", ""))
	s := serve(t, bin, nil, "run", "-config", path)

	sent := 0
	for _, n := range []int{4, 3} {
		c := dial(t, s.url+"/echo/")
		for i := range n {
			roundTrip(t, c, fmt.Sprintf("message %d", i))
			sent++
		}
		closeNormally(t, c)
	}

	// What Prometheus asks for, promhttp serves: OpenMetrics.
	status, h, body := do(t, http.MethodGet, s.admin+"/metrics", http.Header{"Accept": {prometheusAccept}})
	if ct := h.Get("Content-Type"); status != http.StatusOK || !strings.HasPrefix(ct, "application/openmetrics-text") ||
		!strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("GET /metrics as Prometheus asks: status %d, Content-Type %q, want 200 and OpenMetrics", status, ct)
	}

	prom := startPrometheus(t, promBin, strings.TrimPrefix(s.admin, "http://"), deadline)
	eventuallyBefore(t, deadline, "Prometheus to scrape wasmgate", func() error {
		v, err := prom.query(`up{job="wasmgate"}`)
		if err != nil {
			return err
		}
		if v != 1 {
			return fmt.Errorf("up = %v", v)
		}
		return nil
	})
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				ScrapeURL string `json:"scrapeUrl"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	getJSON(t, prom.url+"/api/v1/targets", &targets)
	if at := targets.Data.ActiveTargets; len(at) != 1 || at[0].Health != "up" || at[0].LastError != "" {
		t.Errorf("Prometheus's targets: %+v, want one, up, without error", at)
	}

	for _, tt := range []struct {
		query string
		ok    func(float64) bool
		want  string
	}{
		{`wasmgate_connections_total{route="echo"}`, func(v float64) bool { return v >= 2 }, ">= 2"},
		{`wasmgate_messages_total{route="echo",direction="client_to_upstream"}`, func(v float64) bool { return v == float64(sent) }, fmt.Sprint(sent)},
		{`wasmgate_messages_total{route="echo",direction="upstream_to_client"}`, func(v float64) bool { return v == float64(sent) }, fmt.Sprint(sent)},
		{`sum(wasmgate_handshakes_total{outcome="accepted"})`, func(v float64) bool { return v >= 2 }, ">= 2"},
		{`sum(wasmgate_upstream_dial_duration_seconds_count)`, func(v float64) bool { return v >= 2 }, ">= 2"},
		{`wasmgate_config_generation`, func(v float64) bool { return v == 1 }, "1"},
		{`go_goroutines{job="wasmgate"}`, func(v float64) bool { return v > 0 }, "> 0"},
	} {
		eventuallyBefore(t, deadline, tt.query, func() error {
			v, err := prom.query(tt.query)
			if err != nil {
				return err
			}
			if !tt.ok(v) {
				return fmt.Errorf("%s = %v, want %s", tt.query, v, tt.want)
			}
			return nil
		})
	}
}

// promServer is a Prometheus server run by a test.
type promServer struct {
	url string // http://127.0.0.1:port
}

// startPrometheus starts Prometheus scraping the admin listener at
// target every second, as the job "wasmgate", and waits until it is
// ready. The test's cleanup kills it.
func startPrometheus(t *testing.T, promBin, target string, deadline time.Time) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "prom.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: wasmgate
    static_configs:
      - targets: [%q]
`, target))
	// The free port found may be taken before Prometheus binds it: one
	// more try then.
	var errs []string
	for attempt := range 2 {
		addr := freePort(t)
		cmd := exec.Command(promBin,
			"--config.file="+cfg,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data%d", attempt)),
			"--web.listen-address="+addr,
			"--log.level=warn")
		out := newOutput()
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var waitErr error
		go func() {
			waitErr = cmd.Wait()
			close(exited)
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		base := "http://" + addr
		ready := false
		eventuallyBefore(t, deadline, "Prometheus to be ready", func() error {
			select {
			case <-exited:
				return nil // the loop below tries again
			default:
			}
			resp, err := adminHTTP.Get(base + "/-/ready")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /-/ready: status %d", resp.StatusCode)
			}
			ready = true
			return nil
		})
		if ready {
			return &promServer{url: base}
		}
		errs = append(errs, fmt.Sprintf("on %s: %v\n%s", addr, waitErr, out))
	}
	t.Fatalf("Prometheus did not start:\n%s", strings.Join(errs, "\n"))
	return nil
}

// freePort returns a loopback address with a port that was free a moment
// ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// query runs an instant query that must give one sample, and returns its
// value. No sample yet is an error, to wait on.
func (p *promServer) query(q string) (float64, error) {
	resp, err := adminHTTP.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ans struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return 0, fmt.Errorf("query %s: %w", q, err)
	}
	switch {
	case ans.Status != "success":
		return 0, fmt.Errorf("query %s: %s", q, ans.Error)
	case len(ans.Data.Result) == 0:
		return 0, fmt.Errorf("query %s: no sample yet", q)
	case len(ans.Data.Result) > 1:
		return 0, fmt.Errorf("query %s: %d samples, want 1: %+v", q, len(ans.Data.Result), ans.Data.Result)
	}
	s, ok := ans.Data.Result[0].Value[1].(string)
	if !ok {
		return 0, fmt.Errorf("query %s: value %v", q, ans.Data.Result[0].Value)
	}
	return strconv.ParseFloat(s, 64)
}
