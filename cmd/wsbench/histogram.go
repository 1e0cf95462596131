package main

import (
	"math"
	"math/bits"
	"time"
)

// The latency histogram is log-linear, like HdrHistogram: each power of
// two of nanoseconds is split into 2^histSubBits equal buckets, so a
// recorded value is known to within 1/128 (0.8%) of itself, and half that
// around the bucket's middle. Values below 128 ns are exact. The range
// ends at 2^histMaxBits ns (68.7 s): larger values land in the last
// bucket. Recording is an index computation and an increment: no
// allocation, no lock (each connection has its own histogram, merged at
// the end).
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histMaxBits = 36
	histBuckets = (histMaxBits - histSubBits + 1) << histSubBits
	histMax     = 1<<histMaxBits - 1
)

// histogram counts durations in log-linear buckets. The zero value is
// empty and ready.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	sum    uint64 // nanoseconds, for the mean
	min    uint64
	max    uint64
}

// bucketIndex returns the bucket of v nanoseconds (v <= histMax).
func bucketIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return (shift+1)<<histSubBits + int(v>>shift) - histSub
}

// bucketBounds returns the smallest value of bucket i and its width.
func bucketBounds(i int) (low, width uint64) {
	if i < histSub {
		return uint64(i), 1
	}
	shift := i>>histSubBits - 1
	return uint64(histSub+i&(histSub-1)) << shift, 1 << shift
}

// record adds one duration. Negative durations (a clock that went back,
// which the monotonic clock does not) count as zero.
func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	if v > histMax {
		v = histMax
	}
	h.counts[bucketIndex(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += v
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	if o.total == 0 {
		return
	}
	for i, n := range o.counts {
		h.counts[i] += n
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// quantile returns the duration below which a fraction q of the values
// lie (q in [0, 1]): the middle of the bucket holding the value of rank
// ceil(q*total), kept within the observed minimum and maximum. It is 0 for
// an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			low, width := bucketBounds(i)
			v := low + (width-1)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// mean returns the mean of the recorded durations, or 0.
func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}
