// Command conformance is the Go SDK's conformance guest: it does exactly
// what sdk/CONFORMANCE.md says, with the SDK's public API, so that the
// host-side test can require the same transcript from every SDK.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o conformance.wasm .
package main

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	wasmgate "github.com/wasmgate/wasmgate/sdk/go"
)

type conformance struct {
	wasmgate.Base
	messages wasmgate.Counter
	open     wasmgate.Gauge
}

// timeOK is 2020-09-13, after which time_now must be.
const timeOK = 1_600_000_000_000_000_000

func code(err error) string { return strconv.Itoa(int(wasmgate.Code(err))) }

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func clock() string {
	if wasmgate.Now().UnixNano() > timeOK {
		return "ok"
	}
	return "bad"
}

func (f *conformance) Start(cfg wasmgate.Config) error {
	wasmgate.Log(wasmgate.LevelInfo, "conf start config="+string(cfg.Bytes()))
	c, errC := wasmgate.NewCounter("conf_messages")
	g, errG := wasmgate.NewGauge("conf_open")
	c2, errC2 := wasmgate.NewCounter("conf_messages")
	_, bad := wasmgate.NewCounter("9bad")
	same := errC == nil && errG == nil && errC2 == nil && c == c2
	wasmgate.Log(wasmgate.LevelInfo, "conf start metrics same="+strconv.FormatBool(same)+" bad="+code(bad))
	wasmgate.Log(wasmgate.LevelInfo, "conf start time="+clock())
	wasmgate.Log(wasmgate.LevelInfo, "conf start tick="+code(wasmgate.SetTick(5*time.Millisecond)))
	f.messages, f.open = c, g
	return nil
}

func (f *conformance) Open(c *wasmgate.Conn, r *wasmgate.Request) wasmgate.Action {
	wasmgate.Log(wasmgate.LevelInfo, "conf open method="+r.Method()+" uri="+r.URI()+" path="+r.Path()+
		" query="+r.Query()+" host="+r.Host()+" remote="+r.RemoteAddr()+
		" protocols="+strings.Join(r.Protocols(), ",")+" route="+r.Route()+
		" tls="+flag(c.TLS())+" reopen="+flag(r.Reopened()))

	missing := "0"
	if _, ok := r.Header("x-missing"); !ok {
		missing = code(wasmgate.ErrNotFound)
	}
	long, _ := r.Header("x-long")
	headers := r.Headers()
	names := make([]string, len(headers))
	for i, h := range headers {
		names[i] = h.Name
	}
	wasmgate.Log(wasmgate.LevelInfo, "conf open multi="+strings.Join(r.HeaderValues("X-Multi"), "|")+
		" missing="+missing+" long="+strconv.Itoa(len(long))+
		" headers="+strconv.Itoa(len(headers))+" names="+strings.Join(names, ","))

	opens, _ := wasmgate.KVAdd("opens", 1, 0)
	wasmgate.KVSet("last-path", []byte(r.Path()), 0)
	last, _ := wasmgate.KVGet("last-path")
	_, getMissing := wasmgate.KVGet("nope")
	wasmgate.Log(wasmgate.LevelInfo, "conf open opens="+strconv.FormatInt(opens, 10)+" last="+string(last)+
		" get_missing="+code(getMissing)+" delete_missing="+code(wasmgate.KVDelete("nope")))

	f.open.Add(1)

	switch r.Path() {
	case "/reject":
		r.RejectHeader("x-conf-reason", "test")
		wasmgate.Log(wasmgate.LevelInfo, "conf open reject")
		return r.Reject(451, []byte("conformance says no"))
	case "/close":
		wasmgate.Log(wasmgate.LevelInfo, "conf open close="+code(c.Close(4000, "closed in open")))
		return wasmgate.Continue
	}
	r.SetUpstreamHeader("X-Conf", "1")
	r.AddUpstreamHeader("x-conf-add", "a")
	r.AddUpstreamHeader("x-conf-add", "b")
	r.RemoveUpstreamHeader("x-remove-me")
	up := r.SetUpstreamHeader("upgrade", "x")
	ch := r.ChooseUpstream("alt")
	chm := r.ChooseUpstream("nope")
	u := r.SetUpstreamURI("/up" + r.URI())
	ub := r.SetUpstreamURI("no-slash")
	wasmgate.Log(wasmgate.LevelInfo, "conf open edits upgrade="+code(up)+" choose="+code(ch)+" choose_missing="+code(chm)+
		" uri="+code(u)+" uri_bad="+code(ub))
	return wasmgate.Continue
}

func (f *conformance) Message(c *wasmgate.Conn, m *wasmgate.Message) {
	f.messages.Add(1)
	p := m.Bytes()
	if m.Type() == wasmgate.Binary {
		rev := make([]byte, len(p))
		for i, b := range p {
			rev[len(p)-1-i] = b
		}
		m.Replace(wasmgate.Binary, rev)
		return
	}
	text := func(s string) { m.Replace(wasmgate.Text, []byte(s)) }
	name, arg, _ := strings.Cut(string(p), ":")
	switch name {
	case "info":
		dir := "c2u"
		if m.FromUpstream() {
			dir = "u2c"
		}
		text("info index=" + strconv.Itoa(m.Index()) + " type=" + strconv.Itoa(int(m.Type())) +
			" len=" + strconv.Itoa(m.Len()) + " dir=" + dir + " count=" + strconv.Itoa(m.BatchLen()))
	case "upper":
		text(string(bytes.ToUpper([]byte(arg))))
	case "drop":
		m.Drop()
	case "bin":
		m.Replace(wasmgate.Binary, []byte(arg))
	case "send":
		if m.FromUpstream() {
			c.SendToUpstream(wasmgate.Text, []byte(arg))
		} else {
			c.SendToClient(wasmgate.Text, []byte(arg))
		}
	case "kv":
		n, err := wasmgate.KVAdd(arg, 1, 0)
		if err != nil {
			text("kv " + arg + "=" + code(err))
			return
		}
		text("kv " + arg + "=" + strconv.FormatInt(n, 10))
	case "kvset":
		key, value, _ := strings.Cut(arg, "=")
		text("kvset=" + code(wasmgate.KVSet(key, []byte(value), time.Minute)))
	case "kvget":
		v, err := wasmgate.KVGet(arg)
		if err != nil {
			text("kvget " + arg + "=" + code(err))
			return
		}
		text("kvget " + arg + "=" + string(v))
	case "kvdel":
		text("kvdel=" + code(wasmgate.KVDelete(arg)))
	case "gauge":
		n, _ := strconv.ParseInt(arg, 10, 64)
		f.open.Set(n)
		text("gauge=" + strconv.FormatInt(n, 10))
	case "log":
		wasmgate.Log(wasmgate.LevelWarn, "conf log "+arg)
	case "time":
		text("time=" + clock())
	case "wrong":
		_, err := wasmgate.NewCounter("conf_wrong")
		text("wrong=" + code(err))
	case "badutf8":
		r := m.Replace(wasmgate.Text, []byte{0xff, 0xfe})
		text("badutf8=" + code(r))
	case "big":
		r := m.Replace(wasmgate.Text, bytes.Repeat([]byte("a"), 70000))
		text("big=" + code(r))
	case "badclose":
		text("badclose=" + code(c.Close(1005, "")))
	case "tick":
		text("tick=" + code(c.SetTick(10*time.Millisecond)))
	case "close":
		codeText, reason, _ := strings.Cut(arg, ":")
		n, _ := strconv.Atoi(codeText)
		c.Close(uint16(n), reason)
	case "trap":
		panic("conformance: trap requested")
	}
}

func (f *conformance) Close(c *wasmgate.Conn, e wasmgate.CloseEvent) {
	n, _ := wasmgate.KVAdd("closes", 1, 0)
	f.open.Add(-1)
	by := "client"
	if e.ByUpstream {
		by = "upstream"
	}
	wasmgate.Log(wasmgate.LevelInfo, "conf close by="+by+" abnormal="+flag(e.Abnormal)+
		" code="+strconv.Itoa(int(e.Code))+" reason="+e.Reason+" closes="+strconv.FormatInt(n, 10))
}

func (f *conformance) Tick(c *wasmgate.Conn) {
	if c == nil {
		wasmgate.Log(wasmgate.LevelInfo, "conf tick global")
		return
	}
	c.SendToClient(wasmgate.Text, []byte("tick fired"))
	c.SetTick(0)
}

func init() { wasmgate.Register(&conformance{}) }

func main() {}
