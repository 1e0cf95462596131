package wasmgate

import (
	"errors"
	"fmt"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// Errors the host reports with the ABI's result codes. Compare with
// errors.Is or ==; a negative code the ABI does not define becomes an
// error that names the number.
var (
	// ErrNotFound: no such header, key, message, upstream or connection
	// (abi.ErrNotFound).
	ErrNotFound = errors.New("wasmgate: not found")
	// ErrInvalidArgument: a value the host refuses, such as a header it
	// may not set, a text payload that is not UTF-8 or a bad close code
	// (abi.ErrInvalidArgument).
	ErrInvalidArgument = errors.New("wasmgate: invalid argument")
	// ErrTooLarge: over a limit, such as the route's message size or the
	// key-value store's (abi.ErrTooLarge).
	ErrTooLarge = errors.New("wasmgate: too large")
	// ErrWrongHook: the call is valid only in another hook, or on a
	// connection whose handshake is over (abi.ErrWrongHook). The SDK
	// returns it without calling the host for a call it knows is out of
	// place: a Request used after Open returned, a Message used after
	// Message returned, a send from Open, a metric defined outside Start,
	// anything outside a hook.
	ErrWrongHook = errors.New("wasmgate: wrong hook")
)

// errorFor maps a host result to an error: nil for zero and positive
// results, one of the Err variables for the codes of the ABI, and an error
// naming the number for any other negative result.
func errorFor(code int32) error {
	if code >= 0 {
		return nil
	}
	switch code {
	case abi.ErrNotFound:
		return ErrNotFound
	case abi.ErrInvalidArgument:
		return ErrInvalidArgument
	case abi.ErrTooLarge:
		return ErrTooLarge
	case abi.ErrWrongHook:
		return ErrWrongHook
	}
	return hostCode(code)
}

// Code returns the ABI result code of err: 0 for nil, the code of one of
// the Err variables, the number of an undefined code the host returned,
// and ErrInvalidArgument's code for any other error (one the filter made).
func Code(err error) int32 {
	var hc hostCode
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, ErrNotFound):
		return abi.ErrNotFound
	case errors.Is(err, ErrInvalidArgument):
		return abi.ErrInvalidArgument
	case errors.Is(err, ErrTooLarge):
		return abi.ErrTooLarge
	case errors.Is(err, ErrWrongHook):
		return abi.ErrWrongHook
	case errors.As(err, &hc):
		return int32(hc)
	}
	return abi.ErrInvalidArgument
}

// hostCode is a negative result the ABI does not define.
type hostCode int32

func (c hostCode) Error() string { return fmt.Sprintf("wasmgate: host error code %d", int32(c)) }
