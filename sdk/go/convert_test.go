package wasmgate

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

func TestTickMillis(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		ms   uint32
		fail bool
	}{
		{0, 0, false},
		{10 * time.Millisecond, 10, false},
		{time.Second, 1000, false},
		{15*time.Millisecond + time.Microsecond, 16, false},
		{9*time.Millisecond + time.Nanosecond, 10, false},
		{9 * time.Millisecond, 0, true},
		{time.Microsecond, 0, true},
		{-time.Second, 0, true},
		{math.MaxInt32 * time.Millisecond, math.MaxInt32, false},
		{(math.MaxInt32 + 1) * time.Millisecond, 0, true},
	} {
		ms, err := tickMillis(tt.d)
		if ms != tt.ms || (err != nil) != tt.fail {
			t.Errorf("tickMillis(%v) = %d, %v", tt.d, ms, err)
		}
		if err != nil && err != ErrInvalidArgument {
			t.Errorf("tickMillis(%v): %v, want ErrInvalidArgument", tt.d, err)
		}
	}
}

func TestTTLMillis(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		ms   int64
		fail bool
	}{
		{0, 0, false},
		{time.Nanosecond, 1, false},
		{time.Millisecond, 1, false},
		{time.Hour, 3600000, false},
		{-1, 0, true},
	} {
		ms, err := ttlMillis(tt.d)
		if ms != tt.ms || (err != nil) != tt.fail {
			t.Errorf("ttlMillis(%v) = %d, %v", tt.d, ms, err)
		}
	}
}

func TestKVAddResult(t *testing.T) {
	for _, n := range []int64{0, 1, -1, -4, math.MaxInt64, math.MinInt64 + 1} {
		if got, err := kvAddResult(n); got != n || err != nil {
			t.Errorf("kvAddResult(%d) = %d, %v: every value but KVAddFull is a sum", n, got, err)
		}
	}
	if _, err := kvAddResult(abi.KVAddFull); err != ErrTooLarge {
		t.Errorf("kvAddResult(KVAddFull): %v, want ErrTooLarge", err)
	}
}

func TestPointers(t *testing.T) {
	if bytesPtr(nil) != nil || bytesPtr(make([]byte, 0, 8)) != nil {
		t.Error("bytesPtr of an empty slice is not nil")
	}
	if stringPtr("") != nil {
		t.Error("stringPtr of the empty string is not nil")
	}
	b := []byte("abc")
	if bytesPtr(b[1:]) != unsafe.Pointer(&b[1]) {
		t.Error("bytesPtr is not the first byte")
	}
	s := "xyz"
	if *(*byte)(stringPtr(s)) != 'x' {
		t.Error("stringPtr is not the first byte")
	}
}

func TestLevels(t *testing.T) {
	for _, tt := range []struct {
		in, want Level
		name     string
	}{
		{LevelDebug, LevelDebug, "debug"},
		{LevelInfo, LevelInfo, "info"},
		{LevelWarn, LevelWarn, "warn"},
		{LevelError, LevelError, "error"},
		{-3, LevelDebug, "Level(-3)"},
		{9, LevelError, "Level(9)"},
	} {
		if got := tt.in.clamp(); got != tt.want {
			t.Errorf("Level(%d).clamp() = %v, want %v", tt.in, got, tt.want)
		}
		if got := tt.in.String(); got != tt.name {
			t.Errorf("Level(%d).String() = %q, want %q", tt.in, got, tt.name)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{Text.String(), "text"},
		{Binary.String(), "binary"},
		{MessageType(7).String(), "MessageType(7)"},
		{Continue.String(), "continue"},
		{Reject.String(), "reject"},
		{Action(5).String(), "Action(5)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	var none Config
	if string(none.Bytes()) != "null" {
		t.Errorf("empty Config: Bytes() = %q", none.Bytes())
	}
	v := struct{ A int }{A: 7}
	if err := none.Decode(&v); err != nil || v.A != 7 {
		t.Errorf("empty Config: Decode gave %v, %+v", err, v)
	}
	c := Config{raw: []byte(`{"a":3}`)}
	b := c.Bytes()
	b[0] = 'X'
	if string(c.Bytes()) != `{"a":3}` {
		t.Error("Bytes returned the Config's own slice")
	}
	if err := c.Decode(&v); err != nil || v.A != 3 {
		t.Errorf("Decode gave %v, %+v", err, v)
	}
	if err := (Config{raw: []byte(`{`)}).Decode(&v); err == nil {
		t.Error("Decode of bad JSON: no error")
	}
}
