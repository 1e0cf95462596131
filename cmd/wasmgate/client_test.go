package main

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
)

func TestEchoAndClient(t *testing.T) {
	echo := start(t, nil, "echo", "-addr", "127.0.0.1:0", "-subprotocols", "chat.v2, chat.v1")
	url := echo.stdout.waitFor(t, `echo server listening on (ws://\S+)\n`)[1]

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantStdout string
		wantStderr []string
	}{
		{
			name:       "lines",
			stdin:      "hello\nworld\n",
			wantStdout: "hello\nworld\n",
			wantStderr: []string{"connected to " + url + "\n", "closed: 1000 (normal closure)\n"},
		},
		{
			name:       "no trailing newline, CRLF",
			stdin:      "one\r\ntwo",
			wantStdout: "one\ntwo\n",
		},
		{
			name:       "empty lines are empty messages",
			stdin:      "\n\nx\n",
			wantStdout: "\n\nx\n",
		},
		{
			name:       "not UTF-8 goes as binary",
			stdin:      "\xff\xfe\x00\n",
			wantStdout: "[binary, 3 bytes] fffe00\n",
			wantStderr: []string{"not UTF-8"},
		},
		{
			name:       "long binary message is cut",
			stdin:      strings.Repeat("\xff", 40) + "\n",
			wantStdout: "[binary, 40 bytes] " + strings.Repeat("ff", 32) + "...\n",
		},
		{
			name:       "no input",
			wantStderr: []string{"closed: 1000 (normal closure)\n"},
		},
		{
			name:       "subprotocol",
			args:       []string{"-subprotocol", "chat.v3", "-subprotocol", "chat.v1,chat.v2"},
			stdin:      "hi\n",
			wantStdout: "hi\n",
			wantStderr: []string{`(subprotocol "chat.v1")`},
		},
		{
			name:       "headers and origin",
			args:       []string{"-H", "X-Trace: 1", "-origin", "https://example.com"},
			stdin:      "hi\n",
			wantStdout: "hi\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"client"}, tt.args...), url)
			code, stdout, stderr := runCmd(t, tt.stdin, args...)
			if code != 0 {
				t.Errorf("exit status %d, want 0; stderr:\n%s", code, stderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout, tt.wantStdout)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, stderr)
				}
			}
		})
	}

	if code := echo.stop(t); code != 0 {
		t.Errorf("echo exit status %d, want 0", code)
	}
	if want := "connection opened"; !strings.Contains(echo.stderr.String(), want) {
		t.Errorf("echo's log does not contain %q:\n%s", want, echo.stderr)
	}
}

// TestClient_serverCloses checks the exit status and report of the client
// when the server ends the connection.
func TestClient_serverCloses(t *testing.T) {
	tests := []struct {
		name       string
		decide     func(*codec.Request) (*codec.Response, error)
		serve      func(*codec.Conn)
		wantCode   int
		wantStderr string
	}{
		{
			name:       "normal closure",
			serve:      func(c *codec.Conn) { c.Close(codec.CloseNormal, "bye") },
			wantStderr: `closed by the server: 1000 (normal closure) "bye"`,
		},
		{
			name:       "going away",
			serve:      func(c *codec.Conn) { c.Close(codec.CloseGoingAway, "") },
			wantStderr: "closed by the server: 1001 (going away)\n",
		},
		{
			name:       "application code",
			serve:      func(c *codec.Conn) { c.Close(4000, "kicked") },
			wantCode:   1,
			wantStderr: `closed by the server: 4000 "kicked"`,
		},
		{
			name:       "policy violation",
			serve:      func(c *codec.Conn) { c.Close(codec.ClosePolicyViolation, "") },
			wantCode:   1,
			wantStderr: "1008 (policy violation)",
		},
		{
			name:       "connection lost",
			serve:      func(c *codec.Conn) { c.CloseNow() },
			wantCode:   1,
			wantStderr: "connection lost",
		},
		{
			name: "handshake refused",
			decide: func(*codec.Request) (*codec.Response, error) {
				return nil, &codec.RejectError{Status: http.StatusForbidden, Body: "no entry"}
			},
			wantCode:   1,
			wantStderr: "the server refused the upgrade: HTTP 403 Forbidden\n  no entry\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveOnce(t, tt.decide, tt.serve)
			// The client's stdin stays open: the server ends the session.
			stdin, stdinW := net.Pipe()
			t.Cleanup(func() { stdinW.Close() })
			inv := start(t, stdin, "client", "ws://"+addr+"/")
			code := inv.wait(t)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d", code, tt.wantCode)
			}
			if stderr := inv.stderr.String(); !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, stderr)
			}
		})
	}
}

func TestClient_unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, stderr := runCmd(t, "", "client", "ws://"+addr+"/")
	if code != 1 || !strings.Contains(stderr, "connect") {
		t.Errorf("exit status %d, stderr:\n%s", code, stderr)
	}
}

// serveOnce accepts one WebSocket connection on a loopback port, decided
// by decide (nil: accept), and hands it to serve.
func serveOnce(t *testing.T, decide func(*codec.Request) (*codec.Response, error), serve func(*codec.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		u := codec.Upgrader{Decide: decide}
		c, _, err := u.Upgrade(nc)
		if err != nil {
			nc.Close()
			return
		}
		serve(c)
		c.CloseNow()
	}()
	return ln.Addr().String()
}
