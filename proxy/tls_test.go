package proxy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// clientPKI is a CA for client certificates and one client certificate it
// signed, written as PEM files.
type clientPKI struct {
	caFile, certFile, keyFile string
	cert                      tls.Certificate
}

// testClientCA makes a CA and a client certificate (extended key usage
// clientAuth) signed by it, written in dir as name-ca.pem, name-cert.pem
// and name-key.pem.
func testClientCA(t testing.TB, dir, name string) clientPKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " client CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " client"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) (string, []byte) {
		p := filepath.Join(dir, name+"-"+file)
		data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p, data
	}
	pki := clientPKI{}
	pki.caFile, _ = write("ca.pem", "CERTIFICATE", caDER)
	certFile, certPEM := write("cert.pem", "CERTIFICATE", der)
	keyFile, keyPEM := write("key.pem", "PRIVATE KEY", keyDER)
	pki.certFile, pki.keyFile = certFile, keyFile
	if pki.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return pki
}

// certPool reads the CA certificates of a PEM file.
func certPool(t testing.TB, caFile string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return pool
}

// tlsDialer dials wss:// trusting roots, presenting cert when not nil.
func tlsDialer(roots *x509.CertPool, cert *tls.Certificate) *codec.Dialer {
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		cfg.GetClientCertificate = presenting(cert)
	}
	return &codec.Dialer{TLSConfig: cfg}
}

// presenting presents cert whichever CAs the server asks for: with
// Certificates instead, Go's client sends no certificate when the server
// names CAs that did not sign it, and a wrong certificate would never
// reach the proxy's verification.
func presenting(cert *tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
}

// tryDial dials url and closes the connection at once: only whether the
// handshakes succeed matters.
func tryDial(d *codec.Dialer, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := d.Dial(ctx, url)
	if err == nil {
		c.CloseNow()
	}
	return err
}

// expectTLSFailures waits until the listener's count of failed TLS
// handshakes is want. The count is polled: the proxy counts a failure
// after the alert that the client may already have read.
func expectTLSFailures(t testing.TB, p *Proxy, listener string, want float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%v failed TLS handshakes on %s", want, listener), func() (bool, string) {
		got, _ := seriesValue(t, p, "wasmgate_handshakes_total",
			map[string]string{"listener": listener, "outcome": outcomeTLSFailed})
		return got == want, fmt.Sprint(got)
	})
}

// startTLSUpstream serves a WebSocket echo over TLS with cfg.
func startTLSUpstream(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	return rawUpstream(t, func(nc net.Conn) {
		c, _, err := (&codec.Upgrader{}).Upgrade(tls.Server(nc, cfg))
		if err != nil {
			return
		}
		codec.Echo(c) //nolint:errcheck // the tests check what the client sees
	})
}

// TestTLS_ClientCertificates: a listener with client_ca_file takes the
// clients whose certificate its CAs signed, and refuses the others at the
// TLS handshake; with client_auth = "optional" a client without a
// certificate is taken too. The route's require_tls holds on such a
// listener.
func TestTLS_ClientCertificates(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	dir := t.TempDir()
	serverCA, certFile, keyFile := testCA(t, dir)
	good, other := testClientCA(t, dir, "good"), testClientCA(t, dir, "other")
	roots := certPool(t, serverCA)
	const src = `
listener "public" {
  address = "127.0.0.1:0"
  tls {
    cert_file      = "{{cert}}"
    key_file       = "{{key}}"
    client_ca_file = "{{clientca}}"
    {{mode}}
  }
}
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" {
  upstream    = "echo"
  require_tls = true
}
`
	for _, tt := range []struct {
		name, mode string
		noCertOK   bool
	}{
		{name: "client_auth by default", mode: "", noCertOK: false},
		{name: "client_auth require", mode: `client_auth = "require"`, noCertOK: false},
		{name: "client_auth optional", mode: `client_auth = "optional"`, noCertOK: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, addr := startProxy(t, src, map[string]string{
				"cert": certFile, "key": keyFile, "clientca": good.caFile, "mode": tt.mode, "up": up.addr,
			})
			url := "wss://" + addr + "/"
			failures := 0.0
			for _, c := range []struct {
				name string
				cert *tls.Certificate
				ok   bool
			}{
				{name: "certificate signed by client_ca_file", cert: &good.cert, ok: true},
				{name: "no certificate", ok: tt.noCertOK},
				{name: "certificate signed by another CA", cert: &other.cert, ok: false},
			} {
				d := tlsDialer(roots, c.cert)
				if c.ok {
					conn, _ := dialProxy(t, url, d)
					expectRoundTrip(t, conn, c.name, c.name)
					conn.CloseNow()
				} else {
					if err := tryDial(d, url); err == nil {
						t.Errorf("%s: connected, want a refusal", c.name)
					}
					failures++
				}
				expectTLSFailures(t, p, "public", failures)
			}
		})
	}
}

// TestTLS_CipherSuitesAndMinVersion: cipher_suites limits the TLS 1.2
// suites a listener takes, and leaves TLS 1.3 alone; min_version = "1.3"
// refuses TLS 1.2 clients.
func TestTLS_CipherSuitesAndMinVersion(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	serverCA, certFile, keyFile := testCA(t, t.TempDir())
	roots := certPool(t, serverCA)
	p, _ := startProxy(t, `
listener "public" {
  address = "127.0.0.1:0"
  tls {
    cert_file     = "{{cert}}"
    key_file      = "{{key}}"
    min_version   = "1.2"
    cipher_suites = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
  }
}
listener "modern" {
  address = "127.0.0.1:0"
  tls {
    cert_file   = "{{cert}}"
    key_file    = "{{key}}"
    min_version = "1.3"
  }
}
upstream "echo" { servers = ["ws://{{up}}"] }
route "public" {
  listener = "public"
  upstream = "echo"
}
route "modern" {
  listener = "modern"
  upstream = "echo"
}
`, map[string]string{"cert": certFile, "key": keyFile, "up": up.addr})

	failures := map[string]float64{}
	for _, tt := range []struct {
		name     string
		listener string
		max      uint16   // the client's MaxVersion, 0 for Go's
		suites   []uint16 // the client's TLS 1.2 suites, nil for Go's
		version  uint16   // negotiated, 0 for a refusal
		suite    uint16   // negotiated, checked for TLS 1.2 only
	}{
		{name: "TLS 1.2 client offering only a suite not listed", listener: "public",
			max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{name: "TLS 1.2 client offering the listed suite among others", listener: "public",
			max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			version: tls.VersionTLS12, suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{name: "TLS 1.3 client, whatever its TLS 1.2 suites", listener: "public",
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, version: tls.VersionTLS13},
		{name: "TLS 1.2 client on a TLS 1.3 listener", listener: "modern", max: tls.VersionTLS12},
		{name: "TLS 1.3 client on a TLS 1.3 listener", listener: "modern", version: tls.VersionTLS13},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var state tls.ConnectionState
			d := &codec.Dialer{TLSConfig: &tls.Config{
				RootCAs:      roots,
				MaxVersion:   tt.max,
				CipherSuites: tt.suites,
				VerifyConnection: func(cs tls.ConnectionState) error {
					state = cs
					return nil
				},
			}}
			url := "wss://" + p.Addr(tt.listener).String() + "/"
			if tt.version == 0 {
				if err := tryDial(d, url); err == nil {
					t.Fatalf("connected with %s, want a refusal", tls.CipherSuiteName(state.CipherSuite))
				}
				failures[tt.listener]++
				expectTLSFailures(t, p, tt.listener, failures[tt.listener])
				return
			}
			c, _ := dialProxy(t, url, d)
			defer c.CloseNow()
			expectRoundTrip(t, c, tt.name, tt.name)
			if state.Version != tt.version {
				t.Errorf("negotiated %s, want %s", tls.VersionName(state.Version), tls.VersionName(tt.version))
			}
			if tt.version == tls.VersionTLS12 && state.CipherSuite != tt.suite {
				t.Errorf("negotiated %s, want %s", tls.CipherSuiteName(state.CipherSuite), tls.CipherSuiteName(tt.suite))
			}
		})
	}
}

// TestTLS_ReloadClientCA: a reload that changes client_ca_file applies to
// new connections, resumed TLS sessions included, while an open
// connection keeps working.
func TestTLS_ReloadClientCA(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	dir := t.TempDir()
	serverCA, certFile, keyFile := testCA(t, dir)
	before, after := testClientCA(t, dir, "before"), testClientCA(t, dir, "after")
	roots := certPool(t, serverCA)
	const src = `
listener "public" {
  address = "127.0.0.1:0"
  tls {
    cert_file      = "{{cert}}"
    key_file       = "{{key}}"
    client_ca_file = "{{clientca}}"
  }
}
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" { upstream = "echo" }
`
	vars := map[string]string{"cert": certFile, "key": keyFile, "clientca": before.caFile, "up": up.addr}
	p, addr := startProxy(t, src, vars)
	url := "wss://" + addr + "/"

	open, _ := dialProxy(t, url, tlsDialer(roots, &before.cert))
	expectRoundTrip(t, open, "before the reload", "before the reload")

	// A client that resumes TLS sessions: its second connection resumes
	// the first one's, so that the one after the reload would too if the
	// proxy still took the session.
	resumed := false
	resuming := &codec.Dialer{TLSConfig: &tls.Config{
		RootCAs:              roots,
		GetClientCertificate: presenting(&before.cert),
		ClientSessionCache:   tls.NewLRUClientSessionCache(4),
		VerifyConnection: func(cs tls.ConnectionState) error {
			resumed = cs.DidResume
			return nil
		},
	}}
	for i := range 2 {
		// Reading the echo reads the session ticket that TLS 1.3 sends
		// after the handshake.
		c, _ := dialProxy(t, url, resuming)
		expectRoundTrip(t, c, "ticket", "ticket")
		c.Close(codec.CloseNormal, "") //nolint:errcheck // only the session matters
		if i == 1 && !resumed {
			t.Fatal("the client did not resume its TLS session: the check after the reload would prove nothing")
		}
	}

	vars["clientca"] = after.caFile
	if err := p.Reload(parseConfig(t, src, vars)); err != nil {
		t.Fatal(err)
	}
	if err := tryDial(tlsDialer(roots, &before.cert), url); err == nil {
		t.Error("after the reload, a certificate of the old client CA is still taken")
	}
	if err := tryDial(resuming, url); err == nil {
		t.Errorf("after the reload, a session of the old client CA is still taken (resumed: %v)", resumed)
	}
	expectTLSFailures(t, p, "public", 2)
	c, _ := dialProxy(t, url, tlsDialer(roots, &after.cert))
	expectRoundTrip(t, c, "after the reload", "after the reload")
	expectRoundTrip(t, open, "still open", "still open")
}

// TestTLS_UpstreamClientCertificate: an upstream's tls block presents
// cert_file to wss servers that require a client certificate, and its
// min_version and cipher_suites bound what wasmgate offers them; when the
// server refuses, the client gets 502.
func TestTLS_UpstreamClientCertificate(t *testing.T) {
	dir := t.TempDir()
	serverCA, certFile, keyFile := testCA(t, dir)
	good, other := testClientCA(t, dir, "good"), testClientCA(t, dir, "other")
	serverCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tls12Only := func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	}
	for _, tt := range []struct {
		name   string
		tls    string            // attributes of the upstream's tls block, after ca_file
		server func(*tls.Config) // changes the server's configuration, when not nil
		status int               // for the client, 0 for a connection
	}{
		{name: "client certificate signed by the server's CA",
			tls: `cert_file = "{{goodcert}}"` + "\n" + `key_file = "{{goodkey}}"`},
		{name: "no client certificate", status: http.StatusBadGateway},
		{name: "client certificate signed by another CA",
			tls: `cert_file = "{{othercert}}"` + "\n" + `key_file = "{{otherkey}}"`, status: http.StatusBadGateway},
		{name: "cipher_suites that the server takes", server: tls12Only,
			tls: `cert_file = "{{goodcert}}"` + "\n" + `key_file = "{{goodkey}}"` + "\n" +
				`cipher_suites = ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]`},
		{name: "cipher_suites that the server does not take", server: tls12Only, status: http.StatusBadGateway,
			tls: `cert_file = "{{goodcert}}"` + "\n" + `key_file = "{{goodkey}}"` + "\n" +
				`cipher_suites = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]`},
		{name: "min_version 1.3 with a TLS 1.2 server", server: tls12Only, status: http.StatusBadGateway,
			tls: `cert_file = "{{goodcert}}"` + "\n" + `key_file = "{{goodkey}}"` + "\n" + `min_version = "1.3"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{
				Certificates: []tls.Certificate{serverCert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    certPool(t, good.caFile),
			}
			if tt.server != nil {
				tt.server(cfg)
			}
			_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "secure" {
  servers = ["wss://{{up}}"]
  tls {
    ca_file = "{{ca}}"
    `+tt.tls+`
  }
}
route "r" { upstream = "secure" }
`, map[string]string{
				"up": startTLSUpstream(t, cfg), "ca": serverCA,
				"goodcert": good.certFile, "goodkey": good.keyFile,
				"othercert": other.certFile, "otherkey": other.keyFile,
			})
			url := "ws://" + addr + "/"
			if tt.status != 0 {
				if se := dialRefused(t, url, nil); se.Status != tt.status {
					t.Errorf("status %d, want %d", se.Status, tt.status)
				}
				return
			}
			c, _ := dialProxy(t, url, nil)
			defer c.CloseNow()
			expectRoundTrip(t, c, "mTLS upstream", "mTLS upstream")
		})
	}
}

// TestTLS_HandshakeFaults puts a wss listener through clients that fail
// the TLS handshake, while a healthy connection stays open: after each,
// the proxy counts the failure and closes the socket, every goroutine and
// file descriptor of the connection is released, and the healthy
// connection still works.
func TestTLS_HandshakeFaults(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	serverCA, certFile, keyFile := testCA(t, t.TempDir())
	roots := certPool(t, serverCA)
	p, addr := startProxy(t, `
listener "public" {
  address = "127.0.0.1:0"
  tls {
    cert_file = "{{cert}}"
    key_file  = "{{key}}"
  }
}
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" { upstream = "echo" }
limits { handshake_timeout = "300ms" }
`, map[string]string{"cert": certFile, "key": keyFile, "up": up.addr})
	url := "wss://" + addr + "/"

	healthy, _ := dialProxy(t, url, tlsDialer(roots, nil))
	defer healthy.CloseNow()
	expectRoundTrip(t, healthy, "warm", "warm")
	// Warm the paths of a success and of a failure, then take the baseline.
	if err := tryDial(tlsDialer(roots, nil), url); err != nil {
		t.Fatal(err)
	}
	if err := tryDial(&codec.Dialer{}, url); err == nil {
		t.Fatal("a client that does not trust the proxy's CA connected")
	}
	failures := 1.0
	expectTLSFailures(t, p, "public", failures)
	time.Sleep(100 * time.Millisecond)
	baseG, baseFD := goroutines(), openFDs()

	// raw connects over TCP, sends what, and reads what the proxy answers
	// until it closes the socket.
	raw := func(t *testing.T, what []byte) []byte {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write(what); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(nc)
		if err != nil && !isReset(err) {
			t.Fatalf("the proxy did not close the socket: %v", err)
		}
		return got
	}
	faults := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"plain HTTP request", func(t *testing.T) {
			got := raw(t, []byte("GET / HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
			if !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) || !bytes.Contains(got, []byte("wss://")) {
				t.Errorf("the proxy answered %q, want 400 and a hint at wss://", got)
			}
			if n, _ := seriesValue(t, p, "wasmgate_handshakes_total", map[string]string{"outcome": outcomeTLSFailed, "status": "400"}); n != 1 {
				t.Errorf("%v failed TLS handshakes answered with 400, want 1", n)
			}
		}},
		{"garbage bytes", func(t *testing.T) {
			if got := raw(t, bytes.Repeat([]byte{0xff}, 64)); len(got) > 0 {
				t.Errorf("the proxy answered %q, want nothing", got)
			}
		}},
		{"nothing at all", func(t *testing.T) {
			if got := raw(t, nil); len(got) > 0 {
				t.Errorf("the proxy answered %q, want nothing", got)
			}
		}},
		{"part of a ClientHello, then nothing", func(t *testing.T) {
			// A handshake record of 512 bytes, of which 8 arrive.
			if got := raw(t, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01}); len(got) > 0 {
				t.Errorf("the proxy answered %q, want nothing", got)
			}
		}},
		{"client that rejects the proxy's certificate", func(t *testing.T) {
			err := tryDial(&codec.Dialer{}, url)
			var de *codec.DialError
			if !errors.As(err, &de) || de.Op != "tls" {
				t.Errorf("dial: %v, want a TLS DialError", err)
			}
		}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			f.run(t)
			failures++
			expectTLSFailures(t, p, "public", failures)
			expectReleased(t, baseG, baseFD)
			expectRoundTrip(t, healthy, "after "+f.name, "after "+f.name)
		})
	}
}
