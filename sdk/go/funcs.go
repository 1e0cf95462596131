package wasmgate

import (
	"fmt"
	"os"
	"time"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// The host functions valid in every hook (ABI.md, section 4.1). Called
// outside a hook (from an init function, or from a goroutine the filter
// left behind) they do not reach the host, which acts only on a hook's
// connection: the functions with an error return ErrWrongHook, Log writes
// to standard error, Now reads the WASI clock, and the metrics do nothing.

// Now returns the host's wall-clock time.
func Now() time.Time {
	if !inHook() {
		return time.Now()
	}
	return time.Unix(0, hTimeNow())
}

// SetTick makes Filter.Tick(nil) run every period, from 10ms (whole
// milliseconds; a fraction is rounded up), for the plugin as a whole. A
// period of 0 stops the timer; a negative or shorter one is
// ErrInvalidArgument. Each instance of the plugin has its own timer.
func SetTick(period time.Duration) error {
	if !inHook() {
		return ErrWrongHook
	}
	ms, err := tickMillis(period)
	if err != nil {
		return err
	}
	return errorFor(hTickSet(0, ms))
}

// Log logs msg at level; wasmgate adds the plugin's name and the
// connection. A level outside LevelDebug..LevelError is taken as the
// nearest.
func Log(level Level, msg string) {
	level = level.clamp()
	if !inHook() {
		fmt.Fprintf(os.Stderr, "wasmgate %s: %s\n", level, msg)
		return
	}
	hLog(int32(level), msg)
}

// Debugf logs at LevelDebug, formatting as fmt.Sprintf.
func Debugf(format string, args ...any) { Log(LevelDebug, fmt.Sprintf(format, args...)) }

// Infof logs at LevelInfo, formatting as fmt.Sprintf.
func Infof(format string, args ...any) { Log(LevelInfo, fmt.Sprintf(format, args...)) }

// Warnf logs at LevelWarn, formatting as fmt.Sprintf.
func Warnf(format string, args ...any) { Log(LevelWarn, fmt.Sprintf(format, args...)) }

// Errorf logs at LevelError, formatting as fmt.Sprintf.
func Errorf(format string, args ...any) { Log(LevelError, fmt.Sprintf(format, args...)) }

// The key-value store is shared by every instance of the plugin (and by
// other plugins only when wasmgate is configured so): KVAdd is how
// instances count together.

// KVGet returns the value of key, or ErrNotFound. The slice is the
// caller's.
func KVGet(key string) ([]byte, error) {
	if !inHook() {
		return nil, ErrWrongHook
	}
	b, err := fetch(func(buf []byte) int32 { return hKVGet(key, buf) })
	if err != nil {
		return nil, err
	}
	return append([]byte{}, b...), nil
}

// KVSet stores value under key for ttl (whole milliseconds, a fraction
// rounded up), or until it is deleted when ttl is 0. ErrTooLarge when the
// store's limits are reached.
func KVSet(key string, value []byte, ttl time.Duration) error {
	if !inHook() {
		return ErrWrongHook
	}
	ms, err := ttlMillis(ttl)
	if err != nil {
		return err
	}
	return errorFor(hKVSet(key, value, ms))
}

// KVAdd atomically adds delta to the integer stored under key and returns
// the new value, which may be negative. A missing key counts as 0 and gets
// ttl (as in KVSet); ErrTooLarge when the store's limits are reached. The
// key must hold a decimal integer, and the sum must not overflow: the host
// traps otherwise, which ends the hook with an error.
func KVAdd(key string, delta int64, ttl time.Duration) (int64, error) {
	if !inHook() {
		return 0, ErrWrongHook
	}
	ms, err := ttlMillis(ttl)
	if err != nil {
		return 0, err
	}
	return kvAddResult(hKVAdd(key, delta, ms))
}

// kvAddResult maps a result of kv_add: every value is a sum except
// abi.KVAddFull, which no sum can reach.
func kvAddResult(n int64) (int64, error) {
	if n == abi.KVAddFull {
		return 0, ErrTooLarge
	}
	return n, nil
}

// KVDelete deletes key: ErrNotFound when it has no value.
func KVDelete(key string) error {
	if !inHook() {
		return ErrWrongHook
	}
	return errorFor(hKVDelete(key))
}

// Counter is a metric that only goes up, defined with NewCounter. The zero
// Counter does nothing.
type Counter struct {
	id      int32
	defined bool
}

// Gauge is a metric that goes up and down, defined with NewGauge. The zero
// Gauge does nothing.
type Gauge struct {
	id      int32
	defined bool
}

// NewCounter defines a counter. It is valid only in Filter.Start
// (ErrWrongHook elsewhere); the name matches [a-zA-Z_][a-zA-Z0-9_]* and
// wasmgate exports the metric with a plugin label. Defining a name again
// returns the same counter.
func NewCounter(name string) (Counter, error) {
	id, err := defineMetric(abi.MetricCounter, name)
	return Counter{id: id, defined: err == nil}, err
}

// NewGauge defines a gauge, as NewCounter defines a counter.
func NewGauge(name string) (Gauge, error) {
	id, err := defineMetric(abi.MetricGauge, name)
	return Gauge{id: id, defined: err == nil}, err
}

func defineMetric(kind int32, name string) (int32, error) {
	if current != hookStart {
		return 0, ErrWrongHook
	}
	id := hMetricDefine(kind, name)
	if id < 0 {
		return 0, errorFor(id)
	}
	return id, nil
}

// Add adds n to the counter; a counter only goes up, so n <= 0 does
// nothing.
func (c Counter) Add(n int64) {
	if c.defined && n > 0 && inHook() {
		hMetricAdd(c.id, n)
	}
}

// Add adds n, which may be negative, to the gauge.
func (g Gauge) Add(n int64) {
	if g.defined && inHook() {
		hMetricAdd(g.id, n)
	}
}

// Set sets the gauge to v.
func (g Gauge) Set(v int64) {
	if g.defined && inHook() {
		hMetricSet(g.id, v)
	}
}
