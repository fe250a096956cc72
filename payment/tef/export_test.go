package tef

import "time"

// SetPartialTimeout shortens how long a cut answer file is waited on (file transport only).
func SetPartialTimeout(c *Client, d time.Duration) {
	if ft, ok := c.tr.(*fileTransport); ok {
		ft.partial = d
	}
}
