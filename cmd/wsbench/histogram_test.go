package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogram_Quantile(t *testing.T) {
	// uniform records 1..n microseconds, once each.
	uniform := func(n int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(i+1) * time.Microsecond
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{time.Millisecond}, 0.5, time.Millisecond},
		{"one value, p99.9", []time.Duration{time.Millisecond}, 0.999, time.Millisecond},
		{"exact below 128 ns", []time.Duration{10, 20, 30, 40}, 0.5, 20},
		{"uniform 1..1000 µs, p50", uniform(1000), 0.50, 500 * time.Microsecond},
		{"uniform 1..1000 µs, p99", uniform(1000), 0.99, 990 * time.Microsecond},
		{"uniform 1..1000 µs, p99.9", uniform(1000), 0.999, 999 * time.Microsecond},
		{"uniform 1..1000 µs, p0", uniform(1000), 0, time.Microsecond},
		{"uniform 1..1000 µs, p100", uniform(1000), 1, 1000 * time.Microsecond},
		{"bimodal, p50 in the low mode", append(repeat(100*time.Microsecond, 90), repeat(50*time.Millisecond, 10)...), 0.5, 100 * time.Microsecond},
		{"bimodal, p99 in the high mode", append(repeat(100*time.Microsecond, 90), repeat(50*time.Millisecond, 10)...), 0.99, 50 * time.Millisecond},
		{"60 s", []time.Duration{60 * time.Second}, 0.5, 60 * time.Second},
		{"beyond the range is clamped", []time.Duration{5 * time.Minute}, 0.5, histMax},
		{"negative counts as zero", []time.Duration{-5}, 0.5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			for _, v := range tc.values {
				h.record(v)
			}
			got := h.quantile(tc.q)
			if diff := math.Abs(float64(got - tc.want)); diff > 0.01*float64(tc.want) {
				t.Errorf("quantile(%v) = %v, want %v within 1%%", tc.q, got, tc.want)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = d
	}
	return s
}

func TestHistogram_MergeAndMean(t *testing.T) {
	var a, b, all histogram
	for i := 1; i <= 100; i++ {
		d := time.Duration(i) * time.Millisecond
		all.record(d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var merged histogram
	merged.merge(&a)
	merged.merge(&b)
	merged.merge(&histogram{})
	if merged != all {
		t.Errorf("merging two halves differs from recording all: total %d, min %d, max %d; want %d, %d, %d",
			merged.total, merged.min, merged.max, all.total, all.min, all.max)
	}
	if got, want := merged.mean(), 50500*time.Microsecond; got != want {
		t.Errorf("mean %v, want %v", got, want)
	}
	if (&histogram{}).mean() != 0 {
		t.Error("the mean of an empty histogram is not 0")
	}
}

// TestBucketIndex checks the bucket layout: indexes grow with values,
// every value lies within its bucket's bounds, and a bucket is at most
// 1/128 of its values wide.
func TestBucketIndex(t *testing.T) {
	prev := -1
	for v := uint64(0); v <= histMax; v = v + 1 + v/97 {
		i := bucketIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucketIndex(%d) = %d after %d (of %d buckets)", v, i, prev, histBuckets)
		}
		prev = i
		low, width := bucketBounds(i)
		if v < low || v >= low+width {
			t.Fatalf("value %d is outside its bucket %d [%d, %d)", v, i, low, low+width)
		}
		if low >= histSub && float64(width)/float64(low) > 1.0/histSub {
			t.Fatalf("bucket %d [%d, %d) is wider than 1/%d of its values", i, low, low+width, histSub)
		}
	}
	if got := bucketIndex(histMax); got != histBuckets-1 {
		t.Errorf("the largest value is in bucket %d, want the last, %d", got, histBuckets-1)
	}
}
