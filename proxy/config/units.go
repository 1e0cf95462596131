package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// sizeSyntax and durationSyntax end the detail of every diagnostic about a
// malformed size or duration.
const (
	sizeSyntax = `A size is a whole number of bytes with an optional unit: ` +
		`B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), ` +
		`e.g. "512KiB", "1MiB" or "100B"; a bare number means bytes.`
	durationSyntax = `A duration is a number with a unit: ns, us, ms, s, m or h, ` +
		`possibly combined, e.g. "30s", "1m30s", "250ms"; "0" is zero.`
)

// sizeUnits maps each unit ParseSize accepts to its number of bytes.
func sizeUnit(unit string) (int64, bool) {
	switch unit {
	case "", "B":
		return 1, true
	case "KB":
		return 1000, true
	case "MB":
		return 1000 * 1000, true
	case "GB":
		return 1000 * 1000 * 1000, true
	case "KiB":
		return 1 << 10, true
	case "MiB":
		return 1 << 20, true
	case "GiB":
		return 1 << 30, true
	}
	return 0, false
}

// ParseSize parses a size in bytes: a whole number with an optional unit, B,
// KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), as in
// "512KiB", "1MiB", "100B" or "4096". One space may separate the number from
// the unit. Negative numbers, fractions and sizes beyond int64 are errors.
func ParseSize(s string) (int64, error) {
	n, reason := parseSize(s)
	if reason != "" {
		return 0, fmt.Errorf("config: invalid size %q: %s", s, reason)
	}
	return n, nil
}

// parseSize is ParseSize with the reason for a failure, "" on success.
func parseSize(s string) (int64, string) {
	if s == "" {
		return 0, "empty"
	}
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	digits, unit := s[:i], strings.TrimPrefix(s[i:], " ")
	switch {
	case s[0] == '-':
		return 0, "negative sizes are not allowed"
	case i == 0:
		return 0, "it does not start with a number"
	case strings.HasPrefix(unit, ".") || strings.HasPrefix(unit, ","):
		return 0, "fractions are not allowed: use a smaller unit, e.g. 1536KiB instead of 1.5MiB"
	}
	mult, ok := sizeUnit(unit)
	if !ok {
		return 0, fmt.Sprintf("unknown unit %q", unit)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, "too large"
	}
	return n * mult, ""
}

// ParseDuration parses a duration in the syntax of time.ParseDuration, as in
// "30s", "1m30s" or "0". Negative durations are errors.
func ParseDuration(s string) (time.Duration, error) {
	d, reason := parseDuration(s)
	if reason != "" {
		return 0, fmt.Errorf("config: invalid duration %q: %s", s, reason)
	}
	return d, nil
}

// parseDuration is ParseDuration with the reason for a failure, "" on
// success.
func parseDuration(s string) (time.Duration, string) {
	if s == "" {
		return 0, "empty"
	}
	d, err := time.ParseDuration(s)
	if d < 0 || err != nil && s[0] == '-' {
		return 0, "negative durations are not allowed"
	}
	if err != nil {
		// time's errors read `time: missing unit in duration "30"`; the
		// caller names the value already.
		msg := strings.TrimPrefix(err.Error(), "time: ")
		if i := strings.Index(msg, ` duration "`); i >= 0 {
			msg = strings.TrimSuffix(msg[:i], " in")
		}
		if msg == "invalid" {
			msg = "invalid syntax"
		}
		return 0, msg
	}
	return d, ""
}
