package plugins

import (
	"errors"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// KV is the key-value store plugins share (ABI kv_get, kv_set, kv_add and
// kv_delete). Keys are namespaced by the caller: the store sees opaque
// bytes. Implementations are safe for concurrent use.
type KV interface {
	// Get appends the value of key to dst and returns it; ok is false
	// (and dst is returned unchanged) for a missing or expired key.
	Get(key, dst []byte) (val []byte, ok bool)
	// Set stores a copy of val under key, replacing any value and expiry
	// it had. A ttl of zero or less keeps it until deleted. The error is
	// ErrKVTooLarge for a key or value over the size limits and ErrKVFull
	// when a new key would exceed the number of keys allowed.
	Set(key, val []byte, ttl time.Duration) error
	// Add atomically adds delta to the decimal integer stored at key and
	// returns the new value, which is stored as decimal text (so Get of
	// a counter gives "42"). A missing or expired key counts as 0 and
	// gets ttl (zero or less: no expiry); an existing key keeps its
	// expiry. The error is ErrKVNotInteger when the value is not a
	// decimal int64, ErrKVOverflow when the sum does not fit in an int64,
	// and ErrKVTooLarge or ErrKVFull as for Set; on error nothing
	// changes.
	Add(key []byte, delta int64, ttl time.Duration) (int64, error)
	// Delete removes key and reports whether it was there: false when it
	// was missing or expired.
	Delete(key []byte) bool
}

// Errors of KV. The ABI host functions map ErrKVFull and ErrKVTooLarge to
// ERR_TOO_LARGE; ErrKVNotInteger and ErrKVOverflow make kv_add trap.
var (
	// ErrKVFull: the store holds as many keys as it may.
	ErrKVFull = errors.New("key-value store is full")
	// ErrKVTooLarge: a key or value is over the store's size limits.
	ErrKVTooLarge = errors.New("key or value too large for the key-value store")
	// ErrKVNotInteger: Add on a value that is not a decimal int64.
	ErrKVNotInteger = errors.New("key-value store value is not a decimal integer")
	// ErrKVOverflow: Add would take the value outside the int64 range.
	ErrKVOverflow = errors.New("key-value store integer overflow")
)

// Default limits of a MemoryKV.
const (
	DefaultKVMaxKeys      = 100_000
	DefaultKVMaxKeySize   = 1 << 10
	DefaultKVMaxValueSize = 1 << 20
)

// MemoryKVLimits bounds a MemoryKV. A field of zero or less takes its
// default: DefaultKVMaxKeys, DefaultKVMaxKeySize, DefaultKVMaxValueSize.
type MemoryKVLimits struct {
	// MaxKeys is the number of keys the store holds at most, counting
	// expired keys it has not removed yet (it removes them before
	// refusing a new key).
	MaxKeys int
	// MaxKeySize and MaxValueSize are the largest key and value, in
	// bytes.
	MaxKeySize, MaxValueSize int
}

// kvShards is the number of independently locked parts of a MemoryKV.
const kvShards = 16

// kvNever is the expiry of a key without a TTL.
const kvNever = math.MaxInt64

// kvEntry is a stored value. Entries are held by pointer so that a value
// can be replaced, or a counter updated, without assigning to the map
// (which would allocate a string for the key).
type kvEntry struct {
	val []byte
	// exp is when the entry expires, in nanoseconds on the store's clock
	// (see MemoryKV.clock); kvNever when it does not.
	exp int64
}

type kvShard struct {
	mu sync.Mutex
	m  map[string]*kvEntry
	// minExp is at most the earliest expiry in m (kvNever when no entry
	// expires), so that a shard without expired entries is not swept.
	// Written under mu, read without it.
	minExp atomic.Int64
	// Keep shards on separate cache lines.
	_ [128 - 24]byte
}

// MemoryKV is the in-process KV: 16 shards chosen by a seeded hash of the
// key, each a mutex and a map, so that instances running on different
// cores rarely contend. Expired keys are removed when accessed, and when
// the store is full before a new key is refused. Lookups, Get (into a
// buffer with room), Add on an existing key and Set of an existing key
// with a value of similar size do not allocate.
type MemoryKV struct {
	shards  [kvShards]kvShard
	seed    maphash.Seed
	maxKeys int64
	maxKey  int
	maxVal  int
	// n is the number of entries in all shards, expired ones included,
	// and size the bytes of their keys and values.
	n    atomic.Int64
	size atomic.Int64

	// now is the clock; base is its reading when the store was made.
	// Expiries are durations since base, so that they follow the
	// monotonic clock when now is time.Now.
	now  func() time.Time
	base time.Time
}

var _ KV = (*MemoryKV)(nil)

// NewMemoryKV returns an empty store with the limits l.
func NewMemoryKV(l MemoryKVLimits) *MemoryKV {
	return newMemoryKV(l, time.Now)
}

// newMemoryKV is NewMemoryKV with the clock now.
func newMemoryKV(l MemoryKVLimits, now func() time.Time) *MemoryKV {
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultKVMaxKeys
	}
	if l.MaxKeySize <= 0 {
		l.MaxKeySize = DefaultKVMaxKeySize
	}
	if l.MaxValueSize <= 0 {
		l.MaxValueSize = DefaultKVMaxValueSize
	}
	m := &MemoryKV{
		seed:    maphash.MakeSeed(),
		maxKeys: int64(l.MaxKeys),
		maxKey:  l.MaxKeySize,
		maxVal:  l.MaxValueSize,
		now:     now,
		base:    now(),
	}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*kvEntry)
		m.shards[i].minExp.Store(kvNever)
	}
	return m
}

// Len returns the number of keys the store holds, counting expired keys
// it has not removed yet.
func (m *MemoryKV) Len() int {
	return int(m.n.Load())
}

// Bytes returns the bytes of the keys and values the store holds,
// counting expired keys it has not removed yet.
func (m *MemoryKV) Bytes() int64 {
	return m.size.Load()
}

func (m *MemoryKV) shard(key []byte) *kvShard {
	return &m.shards[maphash.Bytes(m.seed, key)%kvShards]
}

// clock returns the time on the store's clock: nanoseconds since base.
func (m *MemoryKV) clock() int64 {
	return int64(m.now().Sub(m.base))
}

// expiry returns the expiry of an entry written at now with ttl.
func expiry(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return kvNever
	}
	if int64(ttl) > kvNever-now {
		return kvNever
	}
	return now + int64(ttl)
}

// live reports whether e has not expired, reading the clock only for an
// entry that expires.
func (m *MemoryKV) live(e *kvEntry) bool {
	return e.exp == kvNever || m.clock() < e.exp
}

// Get implements KV.
func (m *MemoryKV) Get(key, dst []byte) ([]byte, bool) {
	sh := m.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[string(key)]
	if !ok {
		sh.mu.Unlock()
		return dst, false
	}
	if !m.live(e) {
		m.remove(sh, key, e)
		sh.mu.Unlock()
		return dst, false
	}
	dst = append(dst, e.val...)
	sh.mu.Unlock()
	return dst, true
}

// Set implements KV.
func (m *MemoryKV) Set(key, val []byte, ttl time.Duration) error {
	if len(key) > m.maxKey || len(val) > m.maxVal {
		return ErrKVTooLarge
	}
	sh := m.shard(key)
	for swept := false; ; swept = true {
		sh.mu.Lock()
		if e, ok := sh.m[string(key)]; ok {
			m.size.Add(int64(len(val) - len(e.val)))
			e.val = reuse(e.val, len(val))
			e.val = append(e.val, val...)
			e.exp = expiry(m.clock(), ttl)
			sh.noteExpiry(e.exp)
			sh.mu.Unlock()
			return nil
		}
		if m.reserve(sh) {
			e := &kvEntry{val: append([]byte(nil), val...), exp: expiry(m.clock(), ttl)}
			sh.m[string(key)] = e
			m.size.Add(int64(len(key) + len(val)))
			sh.noteExpiry(e.exp)
			sh.mu.Unlock()
			return nil
		}
		sh.mu.Unlock()
		if swept || !m.sweep() {
			return ErrKVFull
		}
	}
}

// Add implements KV.
func (m *MemoryKV) Add(key []byte, delta int64, ttl time.Duration) (int64, error) {
	if len(key) > m.maxKey {
		return 0, ErrKVTooLarge
	}
	sh := m.shard(key)
	for swept := false; ; swept = true {
		sh.mu.Lock()
		if e, ok := sh.m[string(key)]; ok {
			now := int64(0)
			if e.exp != kvNever {
				now = m.clock()
			}
			old, exp := int64(0), e.exp
			if exp == kvNever || now < exp {
				var ok bool
				if old, ok = parseInt(e.val); !ok {
					sh.mu.Unlock()
					return 0, ErrKVNotInteger
				}
			} else {
				exp = expiry(now, ttl)
			}
			v, err := m.store(e, old, delta)
			if err == nil && exp != e.exp {
				e.exp = exp
				sh.noteExpiry(exp)
			}
			sh.mu.Unlock()
			return v, err
		}
		if m.reserve(sh) {
			e := &kvEntry{val: make([]byte, 0, 20)}
			v, err := m.store(e, 0, delta)
			if err != nil {
				m.n.Add(-1)
				sh.mu.Unlock()
				return 0, err
			}
			e.exp = expiry(m.clock(), ttl)
			sh.m[string(key)] = e
			m.size.Add(int64(len(key))) // store counted the value
			sh.noteExpiry(e.exp)
			sh.mu.Unlock()
			return v, nil
		}
		sh.mu.Unlock()
		if swept || !m.sweep() {
			return 0, ErrKVFull
		}
	}
}

// store sets e's value to old+delta in decimal, counts the change of its
// length in m.size, and returns the sum. On error e is unchanged.
func (m *MemoryKV) store(e *kvEntry, old, delta int64) (int64, error) {
	v := old + delta
	if (delta > 0 && v < old) || (delta < 0 && v > old) {
		return 0, ErrKVOverflow
	}
	if decimalLen(v) > m.maxVal {
		return 0, ErrKVTooLarge
	}
	before := len(e.val)
	e.val = strconv.AppendInt(reuse(e.val, 20), v, 10)
	m.size.Add(int64(len(e.val) - before))
	return v, nil
}

// Delete implements KV.
func (m *MemoryKV) Delete(key []byte) bool {
	sh := m.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[string(key)]
	if ok {
		ok = m.live(e)
		m.remove(sh, key, e)
	}
	sh.mu.Unlock()
	return ok
}

// remove deletes key, whose entry is e, from sh, which is locked.
func (m *MemoryKV) remove(sh *kvShard, key []byte, e *kvEntry) {
	delete(sh.m, string(key))
	m.n.Add(-1)
	m.size.Add(-int64(len(key) + len(e.val)))
}

// reserve counts a new entry in sh, which is locked, and reports whether
// the store had room for it.
func (m *MemoryKV) reserve(sh *kvShard) bool {
	for {
		n := m.n.Load()
		if n >= m.maxKeys {
			return false
		}
		if m.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// noteExpiry records in sh, which is locked, that an entry expires at exp.
func (sh *kvShard) noteExpiry(exp int64) {
	if exp < sh.minExp.Load() {
		sh.minExp.Store(exp)
	}
}

// sweep removes the expired entries of every shard that may hold some,
// locking one shard at a time, and reports whether it removed any.
func (m *MemoryKV) sweep() bool {
	now := m.clock()
	removed := false
	for i := range m.shards {
		sh := &m.shards[i]
		if sh.minExp.Load() > now {
			continue
		}
		sh.mu.Lock()
		minExp := int64(kvNever)
		for k, e := range sh.m {
			if e.exp <= now {
				delete(sh.m, k)
				m.n.Add(-1)
				m.size.Add(-int64(len(k) + len(e.val)))
				removed = true
			} else if e.exp < minExp {
				minExp = e.exp
			}
		}
		sh.minExp.Store(minExp)
		sh.mu.Unlock()
	}
	return removed
}

// reuse returns b emptied when its capacity suits a value of n bytes, and
// nil otherwise (so that append allocates): a buffer much larger than the
// value is let go rather than kept.
func reuse(b []byte, n int) []byte {
	if c := cap(b); c >= n && c <= 2*n+64 {
		return b[:0]
	}
	return nil
}

// parseInt parses b as a decimal int64: an optional sign ('+' or '-')
// and at least one ASCII digit, nothing else (no spaces, no
// underscores), as strconv.ParseInt with base 10 but without allocating.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	// Accumulate the magnitude as uint64, bounded by 2^63 (the magnitude
	// of math.MinInt64).
	const limit = uint64(1) << 63
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > limit/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u > limit {
			return 0, false
		}
	}
	if neg {
		return -int64(u), true // -(1<<63) wraps to math.MinInt64
	}
	if u == limit {
		return 0, false
	}
	return int64(u), true
}

// decimalLen returns the length of the decimal form of v.
func decimalLen(v int64) int {
	var buf [20]byte
	return len(strconv.AppendInt(buf[:0], v, 10))
}
