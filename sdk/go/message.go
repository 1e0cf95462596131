package wasmgate

// Message is one data message of a batch, given to Filter.Message. The SDK
// reuses one Message for every call: it is valid only until the call
// returns (afterwards Bytes returns nil, Replace and Drop ErrWrongHook).
// Type, Len and Bytes describe the message as it arrived, also after
// Replace.
type Message struct {
	index        uint32
	count        uint32 // messages in the batch
	typ          MessageType
	n            uint32 // payload length
	got          int    // bytes of the payload in msgBuf, once loaded
	fromUpstream bool
	loaded       bool
	valid        bool
}

func (m *Message) ok() bool { return m.valid && current == hookMessages }

// Index returns the message's position in its batch, from 0.
func (m *Message) Index() int { return int(m.index) }

// BatchLen returns the number of messages in the message's batch: the
// data messages of one direction that one read of the connection produced.
func (m *Message) BatchLen() int { return int(m.count) }

// Type returns the message's type.
func (m *Message) Type() MessageType { return m.typ }

// Len returns the length of the message's payload in bytes.
func (m *Message) Len() int { return int(m.n) }

// FromUpstream reports whether the message goes from the upstream to the
// client; false means from the client to the upstream.
func (m *Message) FromUpstream() bool { return m.fromUpstream }

// Bytes returns the message's payload. The SDK reads it from the host once
// per message, into a buffer it reuses: the slice is valid until Message
// returns, and must not be kept (copy it to keep it).
func (m *Message) Bytes() []byte {
	if !m.ok() {
		return nil
	}
	if !m.loaded {
		m.load()
	}
	return msgBuf[:m.got:m.got]
}

// load reads the payload into msgBuf.
func (m *Message) load() {
	n := int(m.n)
	if cap(msgBuf) < n {
		msgBuf = make([]byte, n)
	}
	buf := msgBuf[:n]
	off := 0
	for off < n {
		k := int(hMessageRead(m.index, uint32(off), buf[off:]))
		if k <= 0 {
			if k < 0 {
				Errorf("message_read(%d, %d): %v", m.index, off, errorFor(int32(k)))
			}
			break
		}
		off += min(k, n-off)
	}
	m.got, m.loaded = off, true
}

// Text returns the payload as a string (a copy).
func (m *Message) Text() string { return string(m.Bytes()) }

// Replace makes the message go on with type t and payload p instead:
// ErrInvalidArgument for a text payload that is not UTF-8, ErrTooLarge for
// one over the route's message size. The host copies p.
func (m *Message) Replace(t MessageType, p []byte) error {
	if !m.ok() {
		return ErrWrongHook
	}
	if !t.valid() {
		return ErrInvalidArgument
	}
	return errorFor(hMessageReplace(m.index, int32(t), p))
}

// Drop makes the message go no further.
func (m *Message) Drop() error {
	if !m.ok() {
		return ErrWrongHook
	}
	return errorFor(hMessageDrop(m.index))
}
