package codec

import "errors"

// Echo serves c as an echo endpoint until the peer closes or fails: every
// data message goes back with its type and payload, frame by frame, so a
// fragmented message is echoed fragmented. A compressed message goes back
// inflated, in the pieces ReadFrame returns, uncompressed. It then completes the close
// handshake and closes c. It returns nil after a clean close.
func Echo(c *Conn) error {
	for {
		f, err := c.ReadFrame()
		if err != nil {
			var ce *CloseError
			var pe *ProtocolError
			switch {
			case errors.As(err, &ce):
				c.Close(ce.Code, "") //nolint:errcheck // completes the handshake
				return nil
			case errors.As(err, &pe):
				c.Close(pe.Code, "") //nolint:errcheck // lingers so the close frame arrives
			default:
				c.CloseNow()
			}
			return err
		}
		if err := c.BufferFrame(f.Fin, f.Opcode, f.Payload); err != nil {
			c.CloseNow()
			return err
		}
		if !c.Buffered() {
			if err := c.Flush(); err != nil {
				c.CloseNow()
				return err
			}
		}
	}
}
