package wasmgate

import "bytes"

// The ABI hands lists to the guest NUL-separated: every item is followed
// by one NUL byte (ABI.md, section 2). These helpers parse them. They are
// lenient with malformed input from a host: bytes after the last NUL make
// one more item, and a header name without a value gets the empty value.

// splitList returns the items of a NUL-separated list, or nil for an
// empty one.
func splitList(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	n := bytes.Count(b, []byte{0})
	if b[len(b)-1] != 0 {
		n++
	}
	items := make([]string, 0, n)
	for len(b) > 0 {
		item, rest, _ := bytes.Cut(b, []byte{0})
		items = append(items, string(item))
		b = rest
	}
	return items
}

// firstItem returns the first item of a NUL-separated list, and false for
// an empty list.
func firstItem(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", false
	}
	item, _, _ := bytes.Cut(b, []byte{0})
	return string(item), true
}

// parseHeaderList returns the headers of a header list (name, NUL, value,
// NUL, repeated), or nil for an empty one.
func parseHeaderList(b []byte) []Header {
	items := splitList(b)
	if len(items) == 0 {
		return nil
	}
	headers := make([]Header, 0, (len(items)+1)/2)
	for i := 0; i < len(items); i += 2 {
		h := Header{Name: items[i]}
		if i+1 < len(items) {
			h.Value = items[i+1]
		}
		headers = append(headers, h)
	}
	return headers
}
