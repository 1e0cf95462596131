// Command guest is the universal test plugin of wasmgate's host tests,
// written with the Go SDK's public API only. The tests drive it by its
// JSON configuration and by text messages: a text message that starts with
// "cmd:" is a command (see command), answered with "res:<result>" towards
// its sender.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o /tmp/guest.wasm ./plugins/testdata/guest
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	wasmgate "github.com/wasmgate/wasmgate/sdk/go"
)

// config is the plugin's configuration; every key is optional.
type config struct {
	Tag           string `json:"tag"`
	RequireHeader *struct {
		Name         string   `json:"name"`
		Value        string   `json:"value"`
		Status       int      `json:"status"`
		Body         string   `json:"body"`
		RejectHeader []string `json:"reject_header"`
	} `json:"require_header"`
	SetUpstreamHeaders    map[string]string `json:"set_upstream_headers"`
	AddUpstreamHeaders    map[string]string `json:"add_upstream_headers"`
	RemoveUpstreamHeaders []string          `json:"remove_upstream_headers"`
	UpstreamFromQuery     string            `json:"upstream_from_query"`
	UpstreamURI           string            `json:"upstream_uri"`
	RequestInfoHeader     string            `json:"request_info_header"`
	FailStart             bool              `json:"fail_start"`
	TrapIn                string            `json:"trap_in"`
	LoopIn                string            `json:"loop_in"`
	GlobalTickMs          int               `json:"global_tick_ms"`
	StartSleepMs          int               `json:"start_sleep_ms"`
	OpenClose             *struct {
		Code   uint16 `json:"code"`
		Reason string `json:"reason"`
	} `json:"open_close"`
	// RecordOpens counts opens, reopens and closes in the key-value store
	// under "opens:<tag>", "reopens:<tag>" and "closes:<tag>", and keeps
	// what a reopen saw under "reopen:<tag>" (see reopenInfo).
	RecordOpens bool `json:"record_opens"`
	// RejectReopen refuses a reopened connection; ReopenClose closes it.
	RejectReopen bool `json:"reject_reopen"`
	ReopenClose  *struct {
		Code   uint16 `json:"code"`
		Reason string `json:"reason"`
	} `json:"reopen_close"`
}

// connState is the guest's state per connection, in Conn.Data.
type connState struct {
	// req is the Request of the connection's Open, kept only to show
	// that using it later fails.
	req *wasmgate.Request
	// ticks is the number of ticks asked for by "cmd:tick"; tick counts
	// those that fired.
	ticks, tick int
}

func state(c *wasmgate.Conn) *connState {
	st, ok := c.Data.(*connState)
	if !ok {
		st = &connState{}
		c.Data = st
	}
	return st
}

type guest struct {
	wasmgate.Base
	cfgRaw    []byte
	cfg       config
	commands  wasmgate.Counter
	open      wasmgate.Gauge
	lastValue wasmgate.Gauge
}

// Globals the compiler cannot optimize away: spin for the endless loops,
// hog for the memory the "cmd:oom" command allocates.
var (
	spin uint64
	hog  [][]byte
)

func loopForever() {
	for {
		spin++
	}
}

func (g *guest) Start(cfg wasmgate.Config) error {
	g.cfgRaw = cfg.Bytes()
	if err := cfg.Decode(&g.cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var err error
	if g.commands, err = wasmgate.NewCounter("commands_total"); err != nil {
		return err
	}
	if g.open, err = wasmgate.NewGauge("open_connections"); err != nil {
		return err
	}
	if g.lastValue, err = wasmgate.NewGauge("last_value"); err != nil {
		return err
	}
	if g.cfg.TrapIn == "start" {
		panic("trap_in start")
	}
	if g.cfg.FailStart {
		return errors.New("fail_start is set")
	}
	if g.cfg.StartSleepMs > 0 {
		// A slow start, announced on stdout (the host logs it), for the
		// tests of what happens while the proxy starts.
		fmt.Printf("start: sleeping %dms\n", g.cfg.StartSleepMs)
		time.Sleep(time.Duration(g.cfg.StartSleepMs) * time.Millisecond)
	}
	if g.cfg.GlobalTickMs > 0 {
		if err := wasmgate.SetTick(time.Duration(g.cfg.GlobalTickMs) * time.Millisecond); err != nil {
			return fmt.Errorf("global tick: %w", err)
		}
	}
	return nil
}

func (g *guest) Open(c *wasmgate.Conn, r *wasmgate.Request) wasmgate.Action {
	if r.Reopened() {
		return g.reopen(c, r)
	}
	g.count("opens")
	if g.cfg.TrapIn == "open" {
		panic("trap_in open")
	}
	if g.cfg.LoopIn == "open" {
		loopForever()
	}
	state(c).req = r

	if rh := g.cfg.RequireHeader; rh != nil {
		if v, _ := r.Header(rh.Name); v != rh.Value {
			if len(rh.RejectHeader) >= 2 {
				if err := r.RejectHeader(rh.RejectHeader[0], rh.RejectHeader[1]); err != nil {
					wasmgate.Errorf("reject header: %v", err)
				}
			}
			return r.Reject(rh.Status, []byte(rh.Body))
		}
	}

	headerError := func(name string, err error) wasmgate.Action {
		return r.Reject(500, []byte(fmt.Sprintf("header %s: %v", name, err)))
	}
	for _, name := range sortedKeys(g.cfg.SetUpstreamHeaders) {
		if err := r.SetUpstreamHeader(name, g.cfg.SetUpstreamHeaders[name]); err != nil {
			return headerError(name, err)
		}
	}
	for _, name := range sortedKeys(g.cfg.AddUpstreamHeaders) {
		if err := r.AddUpstreamHeader(name, g.cfg.AddUpstreamHeaders[name]); err != nil {
			return headerError(name, err)
		}
	}
	for _, name := range g.cfg.RemoveUpstreamHeaders {
		if err := r.RemoveUpstreamHeader(name); err != nil {
			return headerError(name, err)
		}
	}

	if key := g.cfg.UpstreamFromQuery; key != "" {
		q, _ := url.ParseQuery(r.Query())
		if q.Has(key) {
			name := q.Get(key)
			if err := r.ChooseUpstream(name); err != nil {
				return r.Reject(400, []byte("unknown upstream "+name))
			}
		}
	}

	if uri := g.cfg.UpstreamURI; uri != "" {
		if err := r.SetUpstreamURI(uri); err != nil {
			return r.Reject(500, []byte("upstream URI "+uri+": "+err.Error()))
		}
	}

	if name := g.cfg.RequestInfoHeader; name != "" {
		info, err := json.Marshal(requestInfo(c, r))
		if err != nil {
			return r.Reject(500, []byte("request info: "+err.Error()))
		}
		if err := r.SetUpstreamHeader(name, string(info)); err != nil {
			return headerError(name, err)
		}
	}

	if oc := g.cfg.OpenClose; oc != nil {
		if err := c.Close(oc.Code, oc.Reason); err != nil {
			wasmgate.Errorf("open_close: %v", err)
		}
		return wasmgate.Continue
	}

	g.open.Add(1)
	return wasmgate.Continue
}

// count adds one to the counter name:<tag> when record_opens is set.
func (g *guest) count(name string) {
	if !g.cfg.RecordOpens {
		return
	}
	if _, err := wasmgate.KVAdd(name+":"+g.cfg.Tag, 1, 0); err != nil {
		wasmgate.Errorf("count %s: %v", name, err)
	}
}

// reopenInfo is what a reopen saw, kept under "reopen:<tag>": the
// request and the error of an attempt to edit the upstream request.
type reopenInfo struct {
	Request requestInfoJSON `json:"request"`
	Edit    string          `json:"edit"`
}

// reopen is Open on a connection moved to this version of the plugin by a
// live reload: it checks require_header on the request kept from the
// handshake, and refuses or closes as configured.
func (g *guest) reopen(c *wasmgate.Conn, r *wasmgate.Request) wasmgate.Action {
	if g.cfg.TrapIn == "reopen" {
		panic("trap_in reopen")
	}
	if g.cfg.RecordOpens {
		g.count("reopens")
		info := reopenInfo{Request: requestInfo(c, r), Edit: okOrErr(r.SetUpstreamHeader("x-late", "1"))}
		b, err := json.Marshal(info)
		if err == nil {
			err = wasmgate.KVSet("reopen:"+g.cfg.Tag, b, 0)
		}
		if err != nil {
			wasmgate.Errorf("reopen info: %v", err)
		}
	}
	if rh := g.cfg.RequireHeader; rh != nil {
		if v, _ := r.Header(rh.Name); v != rh.Value {
			return r.Reject(rh.Status, []byte(rh.Body))
		}
	}
	if g.cfg.RejectReopen {
		return r.Reject(403, nil)
	}
	if oc := g.cfg.ReopenClose; oc != nil {
		if err := c.Close(oc.Code, oc.Reason); err != nil {
			wasmgate.Errorf("reopen_close: %v", err)
		}
	}
	// The connection ends here with on_close, as one opened here would.
	g.open.Add(1)
	return wasmgate.Continue
}

// requestInfoJSON is what request_info_header sends upstream.
type requestInfoJSON struct {
	Method     string      `json:"method"`
	URI        string      `json:"uri"`
	Path       string      `json:"path"`
	Query      string      `json:"query"`
	Host       string      `json:"host"`
	RemoteAddr string      `json:"remote_addr"`
	Protocols  []string    `json:"protocols"`
	Route      string      `json:"route"`
	TLS        bool        `json:"tls"`
	Headers    [][2]string `json:"headers"`
	XMulti     []string    `json:"x_multi"`
}

func requestInfo(c *wasmgate.Conn, r *wasmgate.Request) requestInfoJSON {
	info := requestInfoJSON{
		Method:     r.Method(),
		URI:        r.URI(),
		Path:       r.Path(),
		Query:      r.Query(),
		Host:       r.Host(),
		RemoteAddr: r.RemoteAddr(),
		Protocols:  r.Protocols(),
		Route:      r.Route(),
		TLS:        c.TLS(),
		Headers:    [][2]string{},
		XMulti:     r.HeaderValues("x-multi"),
	}
	if info.Protocols == nil {
		info.Protocols = []string{}
	}
	if info.XMulti == nil {
		info.XMulti = []string{}
	}
	for _, h := range r.Headers() {
		info.Headers = append(info.Headers, [2]string{h.Name, h.Value})
	}
	return info
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (g *guest) Message(c *wasmgate.Conn, m *wasmgate.Message) {
	if m.Type() != wasmgate.Text {
		return
	}
	p := m.Bytes()
	if bytes.HasPrefix(p, []byte("res:")) {
		return
	}
	if cmd, ok := bytes.CutPrefix(p, []byte("cmd:")); ok {
		g.commands.Add(1)
		g.command(c, m, string(cmd))
		return
	}
	if g.cfg.Tag != "" {
		tagged := append(slices.Clip(p), "|"+g.cfg.Tag...)
		if err := m.Replace(wasmgate.Text, tagged); err != nil {
			wasmgate.Warnf("tag: %v", err)
		}
	}
}

// reply sends "res:"+result back towards the sender of m.
func reply(c *wasmgate.Conn, m *wasmgate.Message, result string) {
	send := c.SendToClient
	if m.FromUpstream() {
		send = c.SendToUpstream
	}
	if err := send(wasmgate.Text, []byte("res:"+result)); err != nil {
		wasmgate.Errorf("reply: %v", err)
	}
}

// forward sends p in the same direction as m.
func forward(c *wasmgate.Conn, m *wasmgate.Message, p []byte) error {
	if m.FromUpstream() {
		return c.SendToClient(wasmgate.Text, p)
	}
	return c.SendToUpstream(wasmgate.Text, p)
}

func drop(m *wasmgate.Message) {
	if err := m.Drop(); err != nil {
		wasmgate.Errorf("drop: %v", err)
	}
}

func errResult(err error) string { return "err " + err.Error() }

func okOrErr(err error) string {
	if err != nil {
		return errResult(err)
	}
	return "ok"
}

// command runs the command cmd (the payload after "cmd:") of message m.
// Unless a case returns early, the message is dropped and the result sent
// back as "res:<result>".
func (g *guest) command(c *wasmgate.Conn, m *wasmgate.Message, cmd string) {
	word, rest, _ := strings.Cut(cmd, " ")
	var result string
	switch word {
	case "kv_set":
		args := strings.Split(rest, " ")
		if len(args) != 3 {
			result = "err usage: kv_set <key> <value> <ttl_ms>"
			break
		}
		ttl, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			result = errResult(err)
			break
		}
		result = okOrErr(wasmgate.KVSet(args[0], []byte(args[1]), time.Duration(ttl)*time.Millisecond))
	case "kv_get":
		v, err := wasmgate.KVGet(rest)
		switch {
		case errors.Is(err, wasmgate.ErrNotFound):
			result = "notfound"
		case err != nil:
			result = errResult(err)
		default:
			result = string(v)
		}
	case "kv_add":
		args := strings.Split(rest, " ")
		if len(args) != 3 {
			result = "err usage: kv_add <key> <delta> <ttl_ms>"
			break
		}
		delta, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			result = errResult(err)
			break
		}
		ttl, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			result = errResult(err)
			break
		}
		n, err := wasmgate.KVAdd(args[0], delta, time.Duration(ttl)*time.Millisecond)
		if err != nil {
			result = errResult(err)
			break
		}
		result = strconv.FormatInt(n, 10)
	case "kv_delete":
		err := wasmgate.KVDelete(rest)
		if errors.Is(err, wasmgate.ErrNotFound) {
			result = "notfound"
		} else {
			result = okOrErr(err)
		}
	case "time":
		result = strconv.FormatInt(wasmgate.Now().UnixNano(), 10)
	case "config":
		result = string(g.cfgRaw)
	case "log":
		level, text, _ := strings.Cut(rest, " ")
		n, err := strconv.Atoi(level)
		if err != nil {
			result = errResult(err)
			break
		}
		wasmgate.Log(wasmgate.Level(n), text)
		result = "ok"
	case "gauge_set":
		v, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			result = errResult(err)
			break
		}
		g.lastValue.Set(v)
		result = "ok"
	case "tick":
		ms, n, _ := strings.Cut(rest, " ")
		period, err := strconv.Atoi(ms)
		if err != nil {
			result = errResult(err)
			break
		}
		count, err := strconv.Atoi(n)
		if err != nil {
			result = errResult(err)
			break
		}
		st := state(c)
		st.ticks, st.tick = count, 0
		result = okOrErr(c.SetTick(time.Duration(period) * time.Millisecond))
	case "close":
		drop(m)
		code, reason, _ := strings.Cut(rest, " ")
		n, err := strconv.ParseUint(code, 10, 16)
		if err == nil {
			err = c.Close(uint16(n), reason)
		}
		if err != nil {
			reply(c, m, errResult(err))
		}
		return
	case "info":
		dir := "c2u"
		if m.FromUpstream() {
			dir = "u2c"
		}
		result = fmt.Sprintf("%s %d %s %d", m.Type(), m.Len(), dir, m.Index())
	case "replace_binary":
		if err := m.Replace(wasmgate.Binary, []byte(rest)); err != nil {
			wasmgate.Errorf("replace_binary: %v", err)
		}
		return
	case "replace_bad_utf8":
		result = okOrErr(m.Replace(wasmgate.Text, []byte{0xff}))
	case "replace_big":
		n, err := strconv.Atoi(rest)
		if err == nil && n < 0 {
			err = errors.New("negative size")
		}
		if err == nil {
			err = m.Replace(wasmgate.Text, bytes.Repeat([]byte{'x'}, n))
		}
		if err == nil {
			return
		}
		result = errResult(err)
	case "drop":
		drop(m)
		return
	case "dup":
		if err := m.Replace(wasmgate.Text, []byte(rest)); err != nil {
			wasmgate.Errorf("dup: %v", err)
		}
		if err := forward(c, m, []byte(rest+"#2")); err != nil {
			wasmgate.Errorf("dup: %v", err)
		}
		return
	case "wrong_hook":
		result = okOrErr(state(c).req.SetUpstreamHeader("x-late", "1"))
	case "trap":
		panic("trap")
	case "loop":
		loopForever()
	case "oom":
		for {
			chunk := make([]byte, 1<<20)
			for i := 0; i < len(chunk); i += 4096 {
				chunk[i] = 1
			}
			hog = append(hog, chunk)
		}
	default:
		result = "unknown"
	}
	drop(m)
	reply(c, m, result)
}

func (g *guest) Close(c *wasmgate.Conn, e wasmgate.CloseEvent) {
	g.open.Add(-1)
	g.count("closes")
	by := "client"
	if e.ByUpstream {
		by = "upstream"
	}
	if err := wasmgate.KVSet("last_close", []byte(fmt.Sprintf("%s %d %s abnormal=%v", by, e.Code, e.Reason, e.Abnormal)), 0); err != nil {
		wasmgate.Errorf("last_close: %v", err)
	}
	if g.cfg.TrapIn == "close" {
		panic("trap_in close")
	}
}

func (g *guest) Tick(c *wasmgate.Conn) {
	if c == nil {
		if _, err := wasmgate.KVAdd("global_ticks", 1, 0); err != nil {
			wasmgate.Errorf("global tick: %v", err)
		}
		return
	}
	st := state(c)
	st.tick++
	if err := c.SendToClient(wasmgate.Text, []byte("tick "+strconv.Itoa(st.tick))); err != nil {
		wasmgate.Errorf("tick: %v", err)
	}
	if st.tick >= st.ticks {
		if err := c.SetTick(0); err != nil {
			wasmgate.Errorf("tick: %v", err)
		}
	}
}

func init() { wasmgate.Register(&guest{}) }

func main() {}
