package plugins

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// kvTestClock is a settable clock for TTL tests.
type kvTestClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *kvTestClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *kvTestClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestKV(l MemoryKVLimits) (*MemoryKV, *kvTestClock) {
	c := &kvTestClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newMemoryKV(l, c.now), c
}

// kvOp is one step of a table test: an operation and what it must give.
type kvOp struct {
	op    string // get, set, add, del, advance, len
	key   string
	val   string // set: the value; get: the value expected
	delta int64
	ttl   time.Duration
	ok    bool  // get, del: expected result
	n     int64 // add: the value expected; len: the length expected
	err   error // set, add: the error expected
}

func runKVOps(t *testing.T, m *MemoryKV, c *kvTestClock, ops []kvOp) {
	t.Helper()
	for i, o := range ops {
		switch o.op {
		case "get":
			got, ok := m.Get([]byte(o.key), nil)
			if ok != o.ok || string(got) != o.val {
				t.Errorf("step %d: Get(%q) = %q, %v; want %q, %v", i, o.key, got, ok, o.val, o.ok)
			}
		case "set":
			if err := m.Set([]byte(o.key), []byte(o.val), o.ttl); !errors.Is(err, o.err) {
				t.Errorf("step %d: Set(%q, %q, %v) = %v; want %v", i, o.key, o.val, o.ttl, err, o.err)
			}
		case "add":
			n, err := m.Add([]byte(o.key), o.delta, o.ttl)
			if !errors.Is(err, o.err) || n != o.n {
				t.Errorf("step %d: Add(%q, %d, %v) = %d, %v; want %d, %v", i, o.key, o.delta, o.ttl, n, err, o.n, o.err)
			}
		case "del":
			if ok := m.Delete([]byte(o.key)); ok != o.ok {
				t.Errorf("step %d: Delete(%q) = %v; want %v", i, o.key, ok, o.ok)
			}
		case "advance":
			c.advance(o.ttl)
		case "len":
			if n := m.Len(); int64(n) != o.n {
				t.Errorf("step %d: Len() = %d; want %d", i, n, o.n)
			}
		case "bytes":
			if n := m.Bytes(); n != o.n {
				t.Errorf("step %d: Bytes() = %d; want %d", i, n, o.n)
			}
		default:
			t.Fatalf("step %d: unknown op %q", i, o.op)
		}
		// Every step keeps the byte count exact.
		if got, want := m.Bytes(), kvBytes(m); got != want {
			t.Errorf("step %d (%s %q): Bytes() = %d, but the entries hold %d", i, o.op, o.key, got, want)
		}
	}
}

// kvBytes sums the keys and values that m holds, expired ones included.
func kvBytes(m *MemoryKV) int64 {
	var n int64
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			n += int64(len(k) + len(e.val))
		}
		sh.mu.Unlock()
	}
	return n
}

func TestKVMemoryBytes(t *testing.T) {
	m, c := newTestKV(MemoryKVLimits{MaxKeys: 2, MaxValueSize: 8})
	runKVOps(t, m, c, []kvOp{
		{op: "bytes", n: 0},
		{op: "set", key: "ab", val: "1234"},
		{op: "bytes", n: 6},
		{op: "set", key: "ab", val: "1"}, // replaced: shorter
		{op: "bytes", n: 3},
		{op: "set", key: "ab", val: "123456789", err: ErrKVTooLarge}, // refused: unchanged
		{op: "bytes", n: 3},
		{op: "add", key: "c", delta: 99, n: 99},
		{op: "bytes", n: 6},
		{op: "add", key: "c", delta: 1, n: 100}, // one digit more
		{op: "bytes", n: 7},
		{op: "add", key: "c", delta: -100, n: 0},
		{op: "bytes", n: 5},
		{op: "add", key: "d", delta: 1, err: ErrKVFull}, // refused: unchanged
		{op: "del", key: "ab", ok: true},
		{op: "bytes", n: 2},
		{op: "set", key: "e", val: "xy", ttl: time.Second},
		{op: "bytes", n: 5},
		{op: "advance", ttl: 2 * time.Second},
		{op: "bytes", n: 5}, // expired, not removed yet
		{op: "get", key: "e", ok: false},
		{op: "bytes", n: 2},
		{op: "set", key: "f", val: "abc", ttl: time.Second},
		{op: "advance", ttl: 2 * time.Second},
		{op: "set", key: "gg", val: "1"}, // full: the sweep removes f
		{op: "bytes", n: 5},
		{op: "add", key: "c", delta: 5, n: 5},
		{op: "bytes", n: 5},
	})
}

func TestKVMemoryOps(t *testing.T) {
	big := strings.Repeat("v", 9)
	tests := []struct {
		name   string
		limits MemoryKVLimits
		ops    []kvOp
	}{
		{"get set delete", MemoryKVLimits{}, []kvOp{
			{op: "get", key: "a"},
			{op: "del", key: "a"},
			{op: "set", key: "a", val: "1"},
			{op: "get", key: "a", val: "1", ok: true},
			{op: "set", key: "a", val: "two"},
			{op: "get", key: "a", val: "two", ok: true},
			{op: "set", key: "", val: "empty key"},
			{op: "get", key: "", val: "empty key", ok: true},
			{op: "set", key: "e", val: ""},
			{op: "get", key: "e", ok: true},
			{op: "len", n: 3},
			{op: "del", key: "a", ok: true},
			{op: "del", key: "a"},
			{op: "get", key: "a"},
			{op: "len", n: 2},
		}},
		{"add", MemoryKVLimits{}, []kvOp{
			{op: "add", key: "c", delta: 5, n: 5},
			{op: "add", key: "c", delta: -7, n: -2},
			{op: "get", key: "c", val: "-2", ok: true},
			{op: "add", key: "c", delta: 0, n: -2},
			{op: "set", key: "c", val: "40"},
			{op: "add", key: "c", delta: 2, n: 42},
			{op: "get", key: "c", val: "42", ok: true},
			{op: "set", key: "s", val: "x"},
			{op: "add", key: "s", delta: 1, err: ErrKVNotInteger},
			{op: "get", key: "s", val: "x", ok: true},
			{op: "del", key: "c", ok: true},
			{op: "add", key: "c", delta: 1, n: 1},
		}},
		{"size limits", MemoryKVLimits{MaxKeySize: 4, MaxValueSize: 8}, []kvOp{
			{op: "set", key: "abcd", val: "12345678"},
			{op: "get", key: "abcd", val: "12345678", ok: true},
			{op: "set", key: "abcde", val: "1", err: ErrKVTooLarge},
			{op: "set", key: "abcd", val: big, err: ErrKVTooLarge},
			{op: "get", key: "abcd", val: "12345678", ok: true},
			{op: "add", key: "abcde", delta: 1, err: ErrKVTooLarge},
			{op: "add", key: "n", delta: 99999999, n: 99999999},
			{op: "add", key: "n", delta: 1, err: ErrKVTooLarge},
			{op: "get", key: "n", val: "99999999", ok: true},
			{op: "add", key: "m", delta: -100000000, err: ErrKVTooLarge},
			{op: "get", key: "m"},
			{op: "get", key: "abcde"},
			{op: "len", n: 2},
		}},
		{"max keys", MemoryKVLimits{MaxKeys: 3}, []kvOp{
			{op: "set", key: "a", val: "1"},
			{op: "set", key: "b", val: "1"},
			{op: "add", key: "c", delta: 1, n: 1},
			{op: "set", key: "d", val: "1", err: ErrKVFull},
			{op: "add", key: "d", delta: 1, err: ErrKVFull},
			{op: "get", key: "d"},
			{op: "set", key: "a", val: "replacing is fine"},
			{op: "add", key: "c", delta: 1, n: 2},
			{op: "len", n: 3},
			{op: "del", key: "b", ok: true},
			{op: "set", key: "d", val: "1"},
			{op: "len", n: 3},
		}},
		{"failed add keeps no key", MemoryKVLimits{MaxKeys: 1, MaxValueSize: 1}, []kvOp{
			{op: "add", key: "a", delta: 10, err: ErrKVTooLarge},
			{op: "len", n: 0},
			{op: "add", key: "b", delta: 9, n: 9},
		}},
		{"ttl", MemoryKVLimits{}, []kvOp{
			{op: "set", key: "a", val: "1", ttl: time.Second},
			{op: "set", key: "b", val: "1"},
			{op: "set", key: "neg", val: "1", ttl: -time.Second},
			{op: "advance", ttl: time.Second - 1},
			{op: "get", key: "a", val: "1", ok: true},
			{op: "advance", ttl: 1},
			{op: "get", key: "a"},
			{op: "len", n: 2},
			{op: "get", key: "b", val: "1", ok: true},
			{op: "get", key: "neg", val: "1", ok: true},
			{op: "set", key: "a", val: "2", ttl: time.Second},
			{op: "advance", ttl: 2 * time.Second},
			{op: "del", key: "a"},
			{op: "len", n: 2},
			// Set replaces the expiry, without a TTL as well.
			{op: "set", key: "a", val: "3", ttl: time.Second},
			{op: "set", key: "a", val: "4"},
			{op: "advance", ttl: time.Hour},
			{op: "get", key: "a", val: "4", ok: true},
			{op: "set", key: "a", val: "5", ttl: time.Second},
			{op: "set", key: "a", val: "6", ttl: time.Minute},
			{op: "advance", ttl: 2 * time.Second},
			{op: "get", key: "a", val: "6", ok: true},
			// A huge TTL does not wrap into the past.
			{op: "set", key: "h", val: "1", ttl: time.Duration(1<<63 - 1)},
			{op: "advance", ttl: time.Hour},
			{op: "get", key: "h", val: "1", ok: true},
		}},
		{"add ttl", MemoryKVLimits{}, []kvOp{
			{op: "add", key: "c", delta: 1, ttl: time.Minute, n: 1},
			{op: "advance", ttl: 30 * time.Second},
			// An existing key keeps its expiry, whatever ttl says.
			{op: "add", key: "c", delta: 1, ttl: time.Hour, n: 2},
			{op: "add", key: "c", delta: 1, n: 3},
			{op: "advance", ttl: 30 * time.Second},
			{op: "get", key: "c"},
			// An expired key counts as missing: 0, and the new ttl.
			{op: "add", key: "c", delta: 1, ttl: time.Minute, n: 1},
			{op: "advance", ttl: 59 * time.Second},
			{op: "add", key: "c", delta: 1, n: 2},
			{op: "advance", ttl: time.Second},
			// Expired but not yet removed: the same.
			{op: "add", key: "c", delta: 5, ttl: 10 * time.Second, n: 5},
			{op: "advance", ttl: 10*time.Second - 1},
			{op: "get", key: "c", val: "5", ok: true},
			{op: "advance", ttl: 1},
			{op: "get", key: "c"},
			// A value that expired does not need to be an integer.
			{op: "set", key: "s", val: "text", ttl: time.Second},
			{op: "add", key: "s", delta: 1, ttl: time.Second, err: ErrKVNotInteger},
			{op: "advance", ttl: time.Second},
			{op: "add", key: "s", delta: 7, n: 7},
			{op: "advance", ttl: 1000 * time.Hour},
			{op: "get", key: "s", val: "7", ok: true},
		}},
		{"full store sweeps expired keys", MemoryKVLimits{MaxKeys: 4}, []kvOp{
			{op: "set", key: "a", val: "1", ttl: time.Second},
			{op: "set", key: "b", val: "1", ttl: 2 * time.Second},
			{op: "set", key: "c", val: "1"},
			{op: "add", key: "d", delta: 1, ttl: time.Second, n: 1},
			{op: "set", key: "e", val: "1", err: ErrKVFull},
			{op: "advance", ttl: time.Second},
			{op: "len", n: 4},
			{op: "set", key: "e", val: "1"},
			// a and d were removed, b not yet expired.
			{op: "len", n: 3},
			{op: "add", key: "f", delta: 1, n: 1},
			{op: "add", key: "g", delta: 1, err: ErrKVFull},
			{op: "get", key: "b", val: "1", ok: true},
			{op: "advance", ttl: time.Second},
			{op: "add", key: "g", delta: 1, n: 1},
			{op: "len", n: 4},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c := newTestKV(tt.limits)
			runKVOps(t, m, c, tt.ops)
		})
	}
}

func TestKVMemoryDefaults(t *testing.T) {
	for _, l := range []MemoryKVLimits{{}, {MaxKeys: -1, MaxKeySize: -1, MaxValueSize: -1}} {
		m := NewMemoryKV(l)
		if m.maxKeys != DefaultKVMaxKeys || m.maxKey != DefaultKVMaxKeySize || m.maxVal != DefaultKVMaxValueSize {
			t.Errorf("NewMemoryKV(%+v): limits %d, %d, %d", l, m.maxKeys, m.maxKey, m.maxVal)
		}
		if err := m.Set(make([]byte, 1<<10), make([]byte, 1<<20), 0); err != nil {
			t.Errorf("Set at the limits: %v", err)
		}
		if err := m.Set(make([]byte, 1<<10+1), nil, 0); !errors.Is(err, ErrKVTooLarge) {
			t.Errorf("Set of a key over the limit: %v", err)
		}
		if err := m.Set(nil, make([]byte, 1<<20+1), 0); !errors.Is(err, ErrKVTooLarge) {
			t.Errorf("Set of a value over the limit: %v", err)
		}
	}
}

func TestKVMemoryRealClock(t *testing.T) {
	m := NewMemoryKV(MemoryKVLimits{})
	if err := m.Set([]byte("k"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := m.Set([]byte("gone"), []byte("v"), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if v, ok := m.Get([]byte("k"), nil); !ok || string(v) != "v" {
		t.Errorf("Get(k) = %q, %v", v, ok)
	}
	if v, ok := m.Get([]byte("gone"), nil); ok {
		t.Errorf("Get(gone) = %q, %v after its TTL", v, ok)
	}
}

func TestKVMemoryGetAppends(t *testing.T) {
	m := NewMemoryKV(MemoryKVLimits{})
	m.Set([]byte("k"), []byte("value"), 0)
	dst := append(make([]byte, 0, 64), "prefix:"...)
	got, ok := m.Get([]byte("k"), dst)
	if !ok || string(got) != "prefix:value" || &got[0] != &dst[0] {
		t.Errorf("Get(k, %q) = %q, %v; want prefix:value in dst's array", dst, got, ok)
	}
	got, ok = m.Get([]byte("missing"), dst)
	if ok || string(got) != "prefix:" {
		t.Errorf("Get(missing, %q) = %q, %v; want dst, false", dst, got, ok)
	}
}

func TestKVMemoryCopies(t *testing.T) {
	m := NewMemoryKV(MemoryKVLimits{})
	key, val := []byte("key"), []byte("value")
	m.Set(key, val, 0)
	key[0], val[0] = 'X', 'X'
	got, ok := m.Get([]byte("key"), nil)
	if !ok || string(got) != "value" {
		t.Fatalf("after changing Set's arguments, Get = %q, %v", got, ok)
	}
	got[0] = 'Y'
	// A value of the same size reuses the stored buffer; what Get
	// returned earlier must not see it.
	m.Set([]byte("key"), []byte("other"), 0)
	if string(got) != "Yalue" {
		t.Errorf("Get's result changed to %q", got)
	}
	if got, _ := m.Get([]byte("key"), nil); string(got) != "other" {
		t.Errorf("Get = %q; want other", got)
	}
}

func TestKVMemoryAddParse(t *testing.T) {
	const max, min = "9223372036854775807", "-9223372036854775808"
	tests := []struct {
		stored string
		delta  int64
		want   int64
		err    error
		after  string // the value after Add; the stored one when empty
	}{
		{stored: "0", delta: 1, want: 1, after: "1"},
		{stored: "-5", delta: 1, want: -4, after: "-4"},
		{stored: "+5", delta: 1, want: 6, after: "6"},
		{stored: "-0", delta: 0, want: 0, after: "0"},
		{stored: "007", delta: 0, want: 7, after: "7"},
		{stored: "-007", delta: 1, want: -6, after: "-6"},
		{stored: max, delta: 0, want: 1<<63 - 1, after: max},
		{stored: max, delta: -1, want: 1<<63 - 2, after: "9223372036854775806"},
		{stored: min, delta: 0, want: -1 << 63, after: min},
		{stored: min, delta: 1, want: -1<<63 + 1, after: "-9223372036854775807"},
		{stored: "-1", delta: -1 << 63, err: ErrKVOverflow},
		{stored: "0", delta: -1 << 63, want: -1 << 63, after: min},
		{stored: max, delta: 1, err: ErrKVOverflow},
		{stored: "1", delta: 1<<63 - 1, err: ErrKVOverflow},
		{stored: min, delta: -1, err: ErrKVOverflow},
		{stored: "00000000000000000000000000009", delta: 1, want: 10, after: "10"},
		{stored: "9223372036854775808", err: ErrKVNotInteger},
		{stored: "-9223372036854775809", err: ErrKVNotInteger},
		{stored: "18446744073709551616", err: ErrKVNotInteger},
		{stored: "99999999999999999999", err: ErrKVNotInteger},
		{stored: "", err: ErrKVNotInteger},
		{stored: "-", err: ErrKVNotInteger},
		{stored: "+", err: ErrKVNotInteger},
		{stored: "+-1", err: ErrKVNotInteger},
		{stored: "--1", err: ErrKVNotInteger},
		{stored: " 5", err: ErrKVNotInteger},
		{stored: "5 ", err: ErrKVNotInteger},
		{stored: "5\n", err: ErrKVNotInteger},
		{stored: "1_000", err: ErrKVNotInteger},
		{stored: "0x10", err: ErrKVNotInteger},
		{stored: "1e3", err: ErrKVNotInteger},
		{stored: "1.0", err: ErrKVNotInteger},
		{stored: "١", err: ErrKVNotInteger},
		{stored: "5\x00", err: ErrKVNotInteger},
	}
	for _, tt := range tests {
		m := NewMemoryKV(MemoryKVLimits{})
		m.Set([]byte("k"), []byte(tt.stored), 0)
		got, err := m.Add([]byte("k"), tt.delta, 0)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Add to %q of %d = %d, %v; want %d, %v", tt.stored, tt.delta, got, err, tt.want, tt.err)
		}
		after := tt.after
		if after == "" {
			after = tt.stored
		}
		if v, _ := m.Get([]byte("k"), nil); string(v) != after {
			t.Errorf("Add to %q of %d: value %q; want %q", tt.stored, tt.delta, v, after)
		}
	}
}

// FuzzKVParseInt checks parseInt against strconv.ParseInt.
func FuzzKVParseInt(f *testing.F) {
	for _, s := range []string{"0", "-5", "+5", " 5", "", "-", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "1_0", "0x1", "0012", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt([]byte(s))
		want, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseInt(%q) = %d, %v; strconv.ParseInt: %d, %v", s, got, ok, want, err)
		}
	})
}

func TestKVMemoryConcurrentAdd(t *testing.T) {
	m := NewMemoryKV(MemoryKVLimits{})
	const goroutines, adds = 32, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			own := []byte(fmt.Sprintf("own-%d", g))
			buf := make([]byte, 0, 32)
			for i := range adds {
				if _, err := m.Add([]byte("shared"), 1, 0); err != nil {
					t.Error(err)
					return
				}
				if _, err := m.Add([]byte("updown"), int64(1-2*(i%2)), 0); err != nil {
					t.Error(err)
					return
				}
				m.Add(own, 2, 0)
				buf, _ = m.Get([]byte("shared"), buf[:0])
				if i%100 == 0 {
					m.Set([]byte("other"), buf, time.Millisecond)
					m.Delete([]byte("other"))
				}
			}
		})
	}
	wg.Wait()
	check := func(key string, want int64) {
		t.Helper()
		v, ok := m.Get([]byte(key), nil)
		if !ok || string(v) != strconv.FormatInt(want, 10) {
			t.Errorf("%s = %q, %v; want %d", key, v, ok, want)
		}
	}
	check("shared", goroutines*adds)
	check("updown", 0)
	for g := range goroutines {
		check(fmt.Sprintf("own-%d", g), 2*adds)
	}
}

// TestKVMemoryConcurrentLimit: however goroutines race to add keys, the
// store takes exactly MaxKeys of them.
func TestKVMemoryConcurrentLimit(t *testing.T) {
	m, c := newTestKV(MemoryKVLimits{MaxKeys: 100})
	const goroutines, keys = 16, 50
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for g := range goroutines {
		wg.Go(func() {
			n := 0
			for i := range keys {
				key := []byte(fmt.Sprintf("%d/%d", g, i))
				var err error
				if i%2 == 0 {
					err = m.Set(key, key, time.Second)
				} else {
					_, err = m.Add(key, 1, time.Second)
				}
				switch {
				case err == nil:
					n++
				case !errors.Is(err, ErrKVFull):
					t.Error(err)
				}
			}
			mu.Lock()
			ok += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if ok != 100 || m.Len() != 100 {
		t.Errorf("%d keys stored, Len %d; want 100", ok, m.Len())
	}
	// Once they expire, there is room again, and the count stays right.
	c.advance(time.Second)
	for i := range 100 {
		if err := m.Set([]byte(fmt.Sprintf("new %d", i)), nil, 0); err != nil {
			t.Fatalf("Set after expiry: %v", err)
		}
	}
	n := 0
	for i := range m.shards {
		n += len(m.shards[i].m)
	}
	if m.Len() != 100 || n != 100 {
		t.Errorf("Len %d, %d entries; want 100", m.Len(), n)
	}
}

// TestKVMemorySweepExpiry: a sweep leaves every shard's minExp at the
// earliest expiry of its entries.
func TestKVMemorySweepExpiry(t *testing.T) {
	m, c := newTestKV(MemoryKVLimits{MaxKeys: 200})
	for i := range 200 {
		ttl := time.Duration(1+i%3) * time.Second
		if i%5 == 0 {
			ttl = 0
		}
		if err := m.Set([]byte(strconv.Itoa(i)), nil, ttl); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(time.Second)
	if err := m.Set([]byte("one more"), nil, 0); err != nil {
		t.Fatal(err)
	}
	now := m.clock()
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		want := int64(kvNever)
		for _, e := range sh.m {
			if e.exp <= now {
				t.Errorf("shard %d holds an expired entry after a sweep", i)
			}
			want = min(want, e.exp)
		}
		if got := sh.minExp.Load(); got != want {
			t.Errorf("shard %d: minExp %d; want %d", i, got, want)
		}
		n += len(sh.m)
	}
	// 200 keys: 40 without TTL, 53 of 1s (swept), 54 of 2s, 53 of 3s.
	if want := 200 - 53 + 1; n != want || m.Len() != want {
		t.Errorf("%d entries, Len %d; want %d", n, m.Len(), want)
	}
}

func TestKVMemoryNoAllocs(t *testing.T) {
	m, _ := newTestKV(MemoryKVLimits{})
	key, val := []byte("some key"), bytes.Repeat([]byte("v"), 100)
	m.Set(key, val, 0)
	m.Add([]byte("counter"), 1, time.Hour)
	m.Set([]byte("ttl"), val, time.Hour)
	buf := make([]byte, 0, 128)
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"Get", func() { m.Get(key, buf) }},
		{"Get with TTL", func() { m.Get([]byte("ttl"), buf) }},
		{"Get missing", func() { m.Get([]byte("missing"), buf) }},
		{"Set existing", func() { m.Set(key, val, 0) }},
		{"Set existing with TTL", func() { m.Set([]byte("ttl"), val, time.Hour) }},
		{"Add", func() { m.Add([]byte("counter"), 1, 0) }},
		{"Add to a value", func() { m.Add([]byte("counter"), -1, 0) }},
		{"Delete missing", func() { m.Delete([]byte("missing")) }},
	} {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations; want 0", tt.name, n)
		}
	}
}

func BenchmarkKVMemory(b *testing.B) {
	key, val := []byte("plugin\x00user:12345"), bytes.Repeat([]byte("v"), 64)
	b.Run("GetHit", func(b *testing.B) {
		m := NewMemoryKV(MemoryKVLimits{})
		m.Set(key, val, 0)
		buf := make([]byte, 0, 128)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = m.Get(key, buf[:0])
		}
	})
	b.Run("GetHitTTL", func(b *testing.B) {
		m := NewMemoryKV(MemoryKVLimits{})
		m.Set(key, val, time.Hour)
		buf := make([]byte, 0, 128)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = m.Get(key, buf[:0])
		}
	})
	b.Run("SetExisting", func(b *testing.B) {
		m := NewMemoryKV(MemoryKVLimits{})
		m.Set(key, val, 0)
		b.ReportAllocs()
		for b.Loop() {
			m.Set(key, val, 0)
		}
	})
	b.Run("Add", func(b *testing.B) {
		m := NewMemoryKV(MemoryKVLimits{})
		b.ReportAllocs()
		for b.Loop() {
			m.Add(key, 1, time.Minute)
		}
	})
	b.Run("AddParallelSameKey", func(b *testing.B) {
		m := NewMemoryKV(MemoryKVLimits{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Add(key, 1, 0)
			}
		})
	})
	b.Run("AddParallelOwnKeys", func(b *testing.B) {
		m := NewMemoryKV(MemoryKVLimits{})
		var mu sync.Mutex
		next := 0
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			k := []byte(fmt.Sprintf("plugin\x00user:%d", next))
			next++
			mu.Unlock()
			for pb.Next() {
				m.Add(k, 1, 0)
			}
		})
	})
}
