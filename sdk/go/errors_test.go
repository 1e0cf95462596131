package wasmgate

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

func TestErrorFor(t *testing.T) {
	for _, tt := range []struct {
		code int32
		want error
		text string
	}{
		{abi.OK, nil, ""},
		{1, nil, ""},
		{12345, nil, ""},
		{abi.ErrNotFound, ErrNotFound, "wasmgate: not found"},
		{abi.ErrInvalidArgument, ErrInvalidArgument, "wasmgate: invalid argument"},
		{abi.ErrTooLarge, ErrTooLarge, "wasmgate: too large"},
		{abi.ErrWrongHook, ErrWrongHook, "wasmgate: wrong hook"},
		{-5, nil, "wasmgate: host error code -5"},
		{-1 << 31, nil, "wasmgate: host error code -2147483648"},
	} {
		err := errorFor(tt.code)
		switch {
		case tt.text == "" && err != nil:
			t.Errorf("errorFor(%d) = %v, want nil", tt.code, err)
		case tt.text != "" && (err == nil || err.Error() != tt.text):
			t.Errorf("errorFor(%d) = %v, want %q", tt.code, err, tt.text)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("errorFor(%d) = %v, not %v", tt.code, err, tt.want)
		}
	}
}

func TestSplitInfo(t *testing.T) {
	for _, tt := range []struct {
		info int64
		n    uint32
		typ  MessageType
		err  error
	}{
		{abi.MessageInfo(0, abi.TypeText), 0, Text, nil},
		{abi.MessageInfo(8, abi.TypeText), 8, Text, nil},
		{abi.MessageInfo(1<<20, abi.TypeBinary), 1 << 20, Binary, nil},
		{abi.MessageInfo(1<<32-1, abi.TypeBinary), 1<<32 - 1, Binary, nil},
		{abi.ErrNotFound, 0, 0, ErrNotFound},
		{abi.ErrWrongHook, 0, 0, ErrWrongHook},
	} {
		n, typ, err := splitInfo(tt.info)
		if n != tt.n || typ != tt.typ || err != tt.err {
			t.Errorf("splitInfo(%#x) = %d, %v, %v; want %d, %v, %v", tt.info, n, typ, err, tt.n, tt.typ, tt.err)
		}
	}
	// A negative result below the range of i32 is still an error.
	if _, _, err := splitInfo(-1 << 40); err == nil {
		t.Error("splitInfo(-1<<40): no error")
	}
}

func TestCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int32
	}{
		{nil, abi.OK},
		{ErrNotFound, abi.ErrNotFound},
		{ErrInvalidArgument, abi.ErrInvalidArgument},
		{ErrTooLarge, abi.ErrTooLarge},
		{ErrWrongHook, abi.ErrWrongHook},
		{fmt.Errorf("kv: %w", ErrTooLarge), abi.ErrTooLarge},
		{errorFor(-77), -77},
		{errors.New("made by the filter"), abi.ErrInvalidArgument},
	} {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
