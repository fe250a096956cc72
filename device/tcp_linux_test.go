package device

import (
	"net"
	"syscall"
	"testing"
)

func TestTCPKeepAlive(t *testing.T) {
	addr := listen(t, func(c net.Conn) { c.Close() })
	for _, tc := range []struct {
		opt  string
		idle int // seconds; 0: keepalive off
	}{{"", 30}, {"?keepalive=10s", 10}, {"?keepalive=0", 0}} {
		l := mustOpen(t, "tcp://"+addr+tc.opt).(*tcpLink)
		rc, err := l.conn.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var on, idle, intvl, cnt, nodelay int
		rc.Control(func(fd uintptr) {
			on, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			idle, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
			intvl, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
			cnt, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
			nodelay, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		})
		if nodelay == 0 {
			t.Errorf("%q: TCP_NODELAY off", tc.opt)
		}
		if tc.idle == 0 {
			if on != 0 {
				t.Errorf("%q: keepalive on", tc.opt)
			}
		} else if on == 0 || idle != tc.idle || intvl != tc.idle || cnt != 3 {
			t.Errorf("%q: keepalive %d idle %d interval %d count %d; want on, %d, %d, 3", tc.opt, on, idle, intvl, cnt, tc.idle, tc.idle)
		}
		l.Close()
	}
}
