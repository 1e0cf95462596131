package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/codec"
)

const clientUsage = `Usage: wasmgate client [flags] URL

Client connects to the WebSocket server at URL (ws:// or wss://), sends
each line of stdin as a text message, and prints each message it receives
on stdout: a text message as it is, a binary one as its length and the hex
of its first bytes. A line that is not UTF-8 is sent as a binary message.

At the end of stdin, or on SIGINT, it closes with 1000 (normal closure)
and waits for the server's close. It prints the close code and reason on
stderr, and exits 0 when the code is 1000 or 1001 and 1 otherwise. A
refused handshake prints the HTTP status and exits 1.
`

// Limits of the client.
const (
	// maxLine bounds a line of stdin, hence a message sent: codec's
	// default message size limit.
	maxLine = codec.DefaultMaxMessageSize
	// hexBytes is how much of a binary message is printed.
	hexBytes = 32
)

// cmdClient is "wasmgate client".
func cmdClient(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("client", clientUsage)
	header := make(http.Header)
	fs.Func("H", "add the request `header` \"Name: value\" (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return errors.New(`want "Name: value"`)
		}
		header.Add(name, strings.TrimSpace(value))
		return nil
	})
	var protocols []string
	fs.Func("subprotocol", "offer the subprotocol `name` (repeatable, or a comma-separated list; in order of preference)", func(s string) error {
		protocols = append(protocols, splitList(s)...)
		return nil
	})
	origin := fs.String("origin", "", "send the Origin header `origin`, e.g. https://example.com")
	insecure := fs.Bool("insecure", false, "do not verify the server's TLS certificate (wss)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound the TCP and TLS connect, and then the WebSocket handshake, to this `duration` each")
	pos, code, ok := fs.parse(args, std)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return fs.usageError(std, "want one URL, got %d arguments", len(pos))
	}
	url := pos[0]
	if *origin != "" {
		header.Set("Origin", *origin)
	}
	d := codec.Dialer{
		Header:           header,
		Protocols:        protocols,
		ConnectTimeout:   *timeout,
		HandshakeTimeout: *timeout,
	}
	if *insecure {
		d.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // asked for with -insecure
	}

	c, hs, err := d.Dial(ctx, url)
	if err != nil {
		var se *codec.StatusError
		if errors.As(err, &se) {
			fmt.Fprintf(std.err, "wasmgate client: the server refused the upgrade: HTTP %d %s\n", se.Status, http.StatusText(se.Status))
			if body := strings.TrimSpace(string(se.Body)); body != "" && utf8.ValidString(body) {
				fmt.Fprintf(std.err, "  %s\n", strings.ReplaceAll(body, "\n", "\n  "))
			}
			return 1
		}
		fmt.Fprintf(std.err, "wasmgate client: %v\n", err)
		return 1
	}
	if hs.Protocol != "" {
		fmt.Fprintf(std.err, "connected to %s (subprotocol %q)\n", url, hs.Protocol)
	} else {
		fmt.Fprintf(std.err, "connected to %s\n", url)
	}
	return chat(ctx, c, std)
}

// chat relays stdin lines to c and c's messages to stdout until the
// connection ends, and returns the exit status.
func chat(ctx context.Context, c *codec.Conn, std stdio) int {
	received := make(chan error, 1)
	go printMessages(c, std.out, received)
	sent := make(chan error, 1)
	go sendLines(c, std.in, std.err, sent)

	var err, stdinErr error
	closedByUs := false
	select {
	case err = <-received:
		// The server closed, or the connection failed.
	case stdinErr = <-sent:
		if stdinErr != nil {
			fmt.Fprintf(std.err, "wasmgate client: reading stdin: %v\n", stdinErr)
		}
		closedByUs = true
	case <-ctx.Done():
		closedByUs = true
	}
	if closedByUs {
		// Send the close frame and let the reader receive the server's
		// answer, and the messages still on their way before it. (Close
		// would read, and drop, them itself when no read is under way.)
		c.WriteClose(codec.CloseNormal, "") //nolint:errcheck // when it fails, so does the read
		err = awaitClose(received)
	}
	c.Close(codec.CloseNormal, "") //nolint:errcheck // the close was exchanged or failed: this waits for the server to end TCP, and releases
	if code := reportEnd(std.err, err, closedByUs); code != 0 || stdinErr == nil {
		return code
	}
	return 1
}

// reportEnd reports how the connection ended, and returns the exit status.
func reportEnd(stderr io.Writer, err error, closedByUs bool) int {

	var ce *codec.CloseError
	var pe *codec.ProtocolError
	switch {
	case errors.As(err, &ce):
		by := "closed by the server"
		if closedByUs {
			by = "closed"
		}
		if ce.Reason != "" {
			fmt.Fprintf(stderr, "%s: %s %q\n", by, ce.Code, ce.Reason)
		} else {
			fmt.Fprintf(stderr, "%s: %s\n", by, ce.Code)
		}
		if ce.Code == codec.CloseNormal || ce.Code == codec.CloseGoingAway {
			return 0
		}
		return 1
	case errors.As(err, &pe):
		fmt.Fprintf(stderr, "wasmgate client: the server broke the protocol; closed with %s: %s\n", pe.Code, pe.Reason)
		return 1
	default:
		fmt.Fprintf(stderr, "wasmgate client: connection lost: %v\n", err)
		return 1
	}
}

// awaitClose waits for the reader's result after this side sent its close
// frame, for as long as codec.Conn's Close would.
func awaitClose(received <-chan error) error {
	timer := time.NewTimer(codec.DefaultCloseTimeout)
	defer timer.Stop()
	select {
	case err := <-received:
		return err
	case <-timer.C:
		return fmt.Errorf("no close frame from the server within %v", codec.DefaultCloseTimeout)
	}
}

// printMessages prints each message read from c on out until reading
// fails, and then sends the error on done.
func printMessages(c *codec.Conn, out io.Writer, done chan<- error) {
	w := bufio.NewWriter(out)
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			done <- err
			return
		}
		if typ == codec.Text {
			w.Write(p) //nolint:errcheck // checked on Flush
			w.WriteByte('\n')
		} else {
			fmt.Fprintf(w, "[binary, %d bytes] %x", len(p), p[:min(len(p), hexBytes)])
			if len(p) > hexBytes {
				w.WriteString("...")
			}
			w.WriteByte('\n')
		}
		w.Flush() //nolint:errcheck // a closed stdout does not end the session
	}
}

// sendLines sends each line of in to c as a message, then sends the error
// that ended reading in (nil at the end of input) on done. When writing to
// c fails it returns without sending: the reader reports the failure.
func sendLines(c *codec.Conn, in io.Reader, stderr io.Writer, done chan<- error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		typ := codec.Text
		if !utf8.Valid(line) {
			fmt.Fprintln(stderr, "wasmgate client: a line is not UTF-8: sending it as a binary message")
			typ = codec.Binary
		}
		if err := c.WriteMessage(typ, line); err != nil {
			return
		}
	}
	done <- sc.Err()
}
