package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// StatusCode is a close status code (RFC 6455, section 7.4, and the IANA
// "WebSocket Close Code Number Registry").
type StatusCode uint16

// Close codes registered by RFC 6455 and IANA.
const (
	CloseNormal          StatusCode = 1000
	CloseGoingAway       StatusCode = 1001
	CloseProtocolError   StatusCode = 1002
	CloseUnsupportedData StatusCode = 1003
	// CloseNoStatus (1005) is never sent: it stands for a close frame that
	// carried no code.
	CloseNoStatus StatusCode = 1005
	// CloseAbnormal (1006) is never sent: it stands for a connection lost
	// without a close frame.
	CloseAbnormal            StatusCode = 1006
	CloseInvalidPayload      StatusCode = 1007
	ClosePolicyViolation     StatusCode = 1008
	CloseMessageTooBig       StatusCode = 1009
	CloseMandatoryExtension  StatusCode = 1010
	CloseInternalError       StatusCode = 1011
	CloseServiceRestart      StatusCode = 1012
	CloseTryAgainLater       StatusCode = 1013
	CloseBadGateway          StatusCode = 1014
	closeTLSHandshakeFailure StatusCode = 1015
)

// ValidOnWire reports whether code may appear in a close frame: the codes
// RFC 6455 and the IANA registry define for use on the wire (1000-1003,
// 1007-1014), and the ranges left to libraries and applications
// (3000-4999). Everything else (0-999, 1004-1006, 1015, 1016-2999, 5000
// and up) is a protocol error when received.
func (c StatusCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

func (c StatusCode) String() string {
	switch c {
	case CloseNormal:
		return "1000 (normal closure)"
	case CloseGoingAway:
		return "1001 (going away)"
	case CloseProtocolError:
		return "1002 (protocol error)"
	case CloseUnsupportedData:
		return "1003 (unsupported data)"
	case CloseNoStatus:
		return "1005 (no status)"
	case CloseAbnormal:
		return "1006 (abnormal closure)"
	case CloseInvalidPayload:
		return "1007 (invalid payload data)"
	case ClosePolicyViolation:
		return "1008 (policy violation)"
	case CloseMessageTooBig:
		return "1009 (message too big)"
	case CloseMandatoryExtension:
		return "1010 (mandatory extension)"
	case CloseInternalError:
		return "1011 (internal error)"
	case CloseServiceRestart:
		return "1012 (service restart)"
	case CloseTryAgainLater:
		return "1013 (try again later)"
	case CloseBadGateway:
		return "1014 (bad gateway)"
	}
	return strconv.Itoa(int(c))
}

// CloseError reports that the peer closed the connection with a close frame.
// Code is CloseNoStatus when the frame carried no code. The Conn has
// already answered the peer's close frame.
type CloseError struct {
	Code   StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return "codec: peer closed the connection: " + e.Code.String()
	}
	return fmt.Sprintf("codec: peer closed the connection: %s: %q", e.Code, e.Reason)
}

// ProtocolError reports that the peer broke the protocol (or a limit), and
// that the Conn failed the connection by sending a close frame with Code.
type ProtocolError struct {
	Code   StatusCode // the close code sent to the peer: 1002, 1007 or 1009
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("codec: %s: %s", e.Code, e.Reason)
}

func protocolError(code StatusCode, reason string) *ProtocolError {
	return &ProtocolError{Code: code, Reason: reason}
}

// CloseStatus returns the close code carried by err: the code the peer sent
// (a *CloseError), or the code this side sent when the peer broke the
// protocol (a *ProtocolError). For any other error it returns
// CloseAbnormal.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CloseAbnormal
}

// Errors returned by Conn methods.
var (
	// ErrClosed is returned by a write after the close frame was sent, or
	// by any call after the socket was closed.
	ErrClosed = errors.New("codec: connection closed")
	// ErrPongTimeout is returned by a read when a keepalive ping went
	// unanswered for the configured pong timeout.
	ErrPongTimeout = errors.New("codec: no pong within the pong timeout")
	// ErrControlTooLong is returned when a ping, pong or close payload
	// exceeds 125 bytes.
	ErrControlTooLong = errors.New("codec: control frame payload over 125 bytes")
	// ErrInvalidCloseCode is returned by a close with a code that must not
	// be sent on the wire.
	ErrInvalidCloseCode = errors.New("codec: close code not valid on the wire")
)

// parseClosePayload validates and decodes the payload of a received close
// frame (RFC 6455, section 5.5.1 and 7.4).
func parseClosePayload(p []byte) (StatusCode, string, *ProtocolError) {
	switch len(p) {
	case 0:
		return CloseNoStatus, "", nil
	case 1:
		return 0, "", protocolError(CloseProtocolError, "close frame with a 1-byte payload")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return 0, "", protocolError(CloseProtocolError, "close frame with invalid code "+strconv.Itoa(int(code)))
	}
	if !utf8.Valid(p[2:]) {
		return 0, "", protocolError(CloseInvalidPayload, "close reason is not valid UTF-8")
	}
	return code, string(p[2:]), nil
}

// appendClosePayload appends the payload of a close frame with code and
// reason to b. CloseNoStatus yields an empty payload. The reason is cut to
// fit the 125-byte limit on a rune boundary.
func appendClosePayload(b []byte, code StatusCode, reason string) []byte {
	if code == CloseNoStatus {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return append(b, reason...)
}
